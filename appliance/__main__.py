"""`python -m appliance`: the operator's command line."""

from appliance.cli.main import main

raise SystemExit(main())
