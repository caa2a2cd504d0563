"""Launch fartrack_node: the managed (lifecycle) node, configured and activated at start-up.

    ros2 launch fartrack_ros fartrack.launch.py image_topic:=/camera/image_raw
    ros2 launch fartrack_ros fartrack.launch.py params_file:=/path/gpu.yaml namespace:=drone1
    ros2 launch fartrack_ros fartrack.launch.py variant:=nano device:=cuda
    ros2 launch fartrack_ros fartrack.launch.py autostart:=false   # then: ros2 lifecycle set ...
    ros2 launch fartrack_ros fartrack.launch.py managed:=false     # the plain node

autostart (default true) is the node's own parameter: it configures and activates itself, so
this works whatever launch_ros version is installed; with false it waits, unconfigured, for
the lifecycle services.

params_file defaults to the package's config/cpu_drone.yaml; variant and device, when given,
override the file's values. The node subscribes to `image`, remapped here to image_topic
(with compressed: true, to image_topic + /compressed, as image_transport does).
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

# Launch arguments passed on to the node as parameters of the same name when not empty.
NODE_PARAMETER_ARGUMENTS = ("variant", "device")
PROFILE_VARIABLES = ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


def _is_true(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes", "on")


def _node(context):
    overrides = {}
    for name in NODE_PARAMETER_ARGUMENTS:
        value = LaunchConfiguration(name).perform(context)
        if value:
            overrides[name] = value
    image_topic = LaunchConfiguration("image_topic").perform(context)
    # The shipped Fast DDS profile (shared memory for the frames under every discovery range,
    # docs/ros.md) unless the user names a profile; the camera driver should use it too.
    environment = {}
    if not any(os.environ.get(v) for v in PROFILE_VARIABLES):
        environment[PROFILE_VARIABLES[0]] = os.path.join(
            get_package_share_directory("fartrack_ros"), "config", "fastdds_profile.xml")
    common = dict(
        package="fartrack_ros",
        name="fartrack_node",
        namespace=LaunchConfiguration("namespace"),
        # with compressed: true the node subscribes to <remapped image>/compressed itself
        remappings=[("image", image_topic)],
        additional_env=environment,
        output="screen",
        emulate_tty=True,
    )
    if not _is_true(LaunchConfiguration("managed").perform(context)):
        return [Node(executable="fartrack_node_plain",
                     parameters=[LaunchConfiguration("params_file"), overrides], **common)]
    autostart = _is_true(LaunchConfiguration("autostart").perform(context))
    return [LifecycleNode(executable="fartrack_node",
                          parameters=[LaunchConfiguration("params_file"), overrides,
                                      {"autostart": autostart}], **common)]


def generate_launch_description():
    config_dir = os.path.join(get_package_share_directory("fartrack_ros"), "config")
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=os.path.join(config_dir, "cpu_drone.yaml"),
                              description="node parameter file (config/cpu_drone.yaml, config/gpu.yaml)"),
        DeclareLaunchArgument("image_topic", default_value="/camera/image_raw",
                              description="camera topic (sensor_msgs/Image; + /compressed)"),
        DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
        DeclareLaunchArgument("variant", default_value="",
                              description="tiny | nano | pico; empty = the params file's"),
        DeclareLaunchArgument("device", default_value="",
                              description="cpu | cuda; empty = the params file's"),
        DeclareLaunchArgument("managed", default_value="true",
                              description="true: the lifecycle node; false: the plain node"),
        DeclareLaunchArgument("autostart", default_value="true",
                              description="managed node: configure and activate at start-up"),
        OpaqueFunction(function=_node),
    ])
