"""fartrack_ros.data: annotation parsers, dataset readers, image and video readers, synthetic scenes."""
