"""pip install of the ROS-free part of fartrack_ros (library + `fartrack` CLI).

The ROS 2 package is built by CMake (package.xml / CMakeLists.txt): colcon ignores this file.
The generated interfaces (fartrack_ros.msg / fartrack_ros.srv) are not part of a pip install;
`fartrack_ros.ros` needs them and rclpy, and only the `demo` / `bench-node` subcommands use it.
In the project's venv, scripts/setup_env.sh builds the interfaces into the venv and installs this
package in editable mode.
"""
from setuptools import find_packages, setup

setup(
    # Not "fartrack_ros": that distribution name belongs to the egg-info the CMake/rosidl build
    # installs, and pip would uninstall the generated interfaces when replacing it.
    name="fartrack",
    version="0.1.0",
    description="FARTrack single-object visual tracker (ROS-free core + ROS 2 node)",
    python_requires=">=3.10",
    packages=find_packages(include=["fartrack_ros", "fartrack_ros.*"]),
    include_package_data=True,
    package_data={"fartrack_ros": ["**/*.yaml", "**/*.safetensors", "**/*.json"]},
    install_requires=[
        "numpy>=1.24",
        "opencv-contrib-python-headless>=4.8",
        "torch>=2.1",
        "safetensors>=0.4",
        "PyYAML>=6",
        "tqdm>=4",
    ],
    extras_require={"onnx": ["onnx", "onnxruntime"]},
    entry_points={"console_scripts": ["fartrack = fartrack_ros.cli:main"]},
)
