"""The skills vocabulary a resume is read against (English and Chinese names).

Each skill has a canonical name, the ways resumes write it, and the competency themes it
speaks to; a job's own competency keywords are matched beside these. Aliases written in
capitals with `case=True` only match as written ("Go" the language, not "go").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Skill:
    """One skill with its spellings and the competency themes it evidences."""

    name: str
    aliases: tuple[str, ...]
    themes: tuple[str, ...]
    case: bool = False  # aliases match case-sensitively (short, ambiguous names)


# Themes are words that also appear in competency dimension keys, names and keywords, which
# is how a skill is tied to a dimension of a job's model (see appliance.resumes.match).
SKILLS: tuple[Skill, ...] = (
    # software and data
    Skill("Python", ("python",), ("technical", "engineering", "software", "coding")),
    Skill("Java", ("java",), ("technical", "engineering", "software", "coding")),
    Skill(
        "JavaScript",
        ("javascript", "typescript", "node.js", "react", "vue"),
        ("technical", "engineering", "software", "coding", "frontend"),
    ),
    Skill("C++", ("c++",), ("technical", "engineering", "software", "coding")),
    Skill("Go", ("Go", "Golang"), ("technical", "engineering", "software", "coding"), case=True),
    Skill("SQL", ("sql", "mysql", "postgresql", "数据库"), ("technical", "data", "analysis")),
    Skill(
        "Cloud",
        ("aws", "azure", "kubernetes", "docker", "云计算", "容器"),
        ("technical", "engineering", "software", "infrastructure"),
    ),
    Skill(
        "Testing",
        ("unit testing", "test automation", "自动化测试", "单元测试"),
        ("technical", "quality", "engineering"),
    ),
    Skill(
        "System design",
        ("system design", "architecture", "microservices", "系统设计", "架构", "微服务"),
        ("technical", "engineering", "design", "problem"),
    ),
    Skill(
        "Machine learning",
        ("machine learning", "deep learning", "机器学习", "深度学习", "人工智能"),
        ("technical", "data", "innovation", "analysis"),
    ),
    Skill(
        "Data analysis",
        ("data analysis", "analytics", "excel", "tableau", "数据分析", "数据挖掘"),
        ("analysis", "data", "requirement", "problem", "decision"),
    ),
    Skill(
        "Debugging",
        ("debugging", "troubleshooting", "root cause", "故障排查", "根因分析"),
        ("problem", "technical", "analysis", "quality"),
    ),
    # product and delivery
    Skill(
        "Requirements analysis",
        ("requirements", "user research", "user stories", "需求分析", "用户调研", "需求"),
        ("requirement", "analysis", "customer", "product"),
    ),
    Skill(
        "Product roadmap",
        ("roadmap", "product strategy", "产品规划", "路线图"),
        ("product", "strategy", "vision", "planning"),
    ),
    Skill(
        "Agile",
        ("agile", "scrum", "kanban", "敏捷", "迭代"),
        ("delivery", "collaboration", "planning", "execution"),
    ),
    Skill(
        "Project management",
        ("project management", "pmp", "项目管理"),
        ("planning", "execution", "delivery", "leadership", "organisation"),
    ),
    Skill(
        "A/B testing",
        ("a/b test", "experimentation", "ab测试", "灰度"),
        ("innovation", "analysis", "data", "product"),
    ),
    Skill(
        "UX design",
        ("ux", "user experience", "prototyping", "figma", "交互设计", "原型"),
        ("design", "customer", "innovation", "product"),
    ),
    # people and leadership
    Skill(
        "Team leadership",
        (
            "led a team",
            "team lead",
            "managed a team",
            "people management",
            "带领团队",
            "团队管理",
            "管理团队",
        ),
        ("leadership", "people", "team", "coaching"),
    ),
    Skill(
        "Mentoring",
        ("mentoring", "coaching", "mentored", "培训新人", "辅导", "带教"),
        ("leadership", "people", "coaching", "development"),
    ),
    Skill(
        "Cross-team collaboration",
        ("cross-functional", "cross-team", "stakeholder", "跨部门", "跨团队", "协作"),
        ("collaboration", "teamwork", "communication", "stakeholder"),
    ),
    Skill(
        "Communication",
        ("presentation", "public speaking", "written communication", "沟通", "汇报", "演讲"),
        ("communication", "collaboration", "influence"),
    ),
    Skill(
        "Negotiation",
        ("negotiation", "negotiated", "谈判"),
        ("negotiation", "sales", "influence", "communication"),
    ),
    Skill(
        "Strategy",
        ("strategic planning", "business strategy", "战略", "战略规划"),
        ("strategy", "vision", "leadership", "decision"),
    ),
    Skill(
        "Change management",
        ("change management", "transformation", "变革", "转型"),
        ("leadership", "change", "strategy", "innovation"),
    ),
    Skill(
        "Budgeting",
        ("budget", "p&l", "预算", "成本控制"),
        ("financial", "planning", "decision", "leadership"),
    ),
    # sales and customers
    Skill(
        "B2B sales",
        ("b2b", "enterprise sales", "account management", "大客户", "客户经理", "销售经理"),
        ("sales", "customer", "negotiation", "target"),
    ),
    Skill("CRM", ("crm", "salesforce", "客户关系管理"), ("sales", "customer", "data")),
    Skill(
        "Lead generation",
        ("lead generation", "prospecting", "cold calling", "拓客", "客户开发"),
        ("sales", "target", "drive", "initiative"),
    ),
    Skill(
        "Customer service",
        ("customer service", "customer success", "客户服务", "客户成功"),
        ("customer", "communication", "service"),
    ),
    Skill(
        "Marketing",
        ("marketing", "campaign", "short video", "营销", "市场推广", "短视频"),
        ("marketing", "innovation", "customer", "sales"),
    ),
    # production and operations
    Skill(
        "Lean manufacturing",
        ("lean", "kaizen", "5s", "精益生产", "持续改进"),
        ("production", "quality", "improvement", "efficiency"),
    ),
    Skill(
        "Six Sigma",
        ("six sigma", "dmaic", "六西格玛"),
        ("quality", "improvement", "analysis", "production"),
    ),
    Skill(
        "Safety",
        ("safety", "ehs", "osha", "安全生产", "安全管理"),
        ("safety", "production", "compliance"),
    ),
    Skill(
        "Quality control",
        ("quality control", "quality assurance", "iso 9001", "质量控制", "质量管理", "质检"),
        ("quality", "production", "improvement"),
    ),
    Skill(
        "Scheduling",
        ("production planning", "shift scheduling", "排产", "生产计划", "排班"),
        ("planning", "production", "execution", "organisation"),
    ),
    Skill(
        "Supply chain",
        ("supply chain", "procurement", "logistics", "供应链", "采购", "物流"),
        ("operations", "planning", "production", "negotiation"),
    ),
)
