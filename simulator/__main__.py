"""`python -m simulator --port 8765 [--config FILE] [--time-scale 0.1]`"""

from simulator.cli import main

raise SystemExit(main())
