"""fartrack_ros.model"""
