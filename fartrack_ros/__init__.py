"""fartrack_ros: FARTrack single-object tracker (ROS-free core + ROS 2 node).

The rosidl-generated interface modules (``fartrack_ros.msg``, ``fartrack_ros.srv``) are
installed into the same package name; ``extend_path`` lets the source tree and the installed
package be merged when Python runs from the repository root.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"
