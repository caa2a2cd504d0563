"""fartrack_ros.ros"""
