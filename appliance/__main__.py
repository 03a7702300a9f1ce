"""`python -m appliance`: the operator's command line."""

from appliance.cli import main

raise SystemExit(main())
