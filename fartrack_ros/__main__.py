import sys

from fartrack_ros.cli import main

sys.exit(main())
