"""Launch fartrack_node with the GPU parameter file (config/gpu.yaml: Tiny on CUDA).

    ros2 launch fartrack_ros fartrack_gpu.launch.py image_topic:=/camera/image_raw
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration


def generate_launch_description():
    share = get_package_share_directory("fartrack_ros")
    return LaunchDescription([IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, "launch", "fartrack.launch.py")),
        launch_arguments={
            "params_file": os.path.join(share, "config", "gpu.yaml"),
            "image_topic": LaunchConfiguration("image_topic", default="/camera/image_raw"),
            "namespace": LaunchConfiguration("namespace", default=""),
        }.items(),
    )])
