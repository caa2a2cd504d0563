"""fartrack_ros.evaluation"""
