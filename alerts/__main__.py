import sys

from alerts.runner import main

sys.exit(main())
