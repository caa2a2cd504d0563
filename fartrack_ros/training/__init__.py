"""fartrack_ros.training"""
