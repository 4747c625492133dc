import sys

from tools.hub.demo import main

sys.exit(main())
