"""Resume text shared by the resume tests and the resume benchmark."""

# A made-up word in the candidate's name: found anywhere outside the encrypted store, it leaked.
CANARY = "Zyxwquartz"

EN_LINES = [
    f"{CANARY} Example - Senior Software Engineer",
    "Senior software engineer with 8 years of experience in backend systems.",
    "EXPERIENCE",
    "Senior Software Engineer, Acme Technologies Inc. 2019 - Present",
    "Led a team of five building microservices in Python and Go on Kubernetes.",
    "Worked cross-functional with product managers on requirements and user research.",
    "Software Engineer | Globex Corp | Mar 2015 - Jun 2019",
    "Built data analysis pipelines in SQL; mentoring two junior engineers.",
]
