"""fartrack_ros.core"""
