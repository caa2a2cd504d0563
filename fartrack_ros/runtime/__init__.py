"""fartrack_ros.runtime"""
