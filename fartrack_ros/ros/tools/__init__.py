"""Processes around the node, not part of it: the camera stand-in (`camera`), a client of a
running node (`client`), the process set-up they share (`session`), `fartrack demo` (`demo`)
and `fartrack bench-node` (`bench`). The node's own modules (fartrack_ros.ros) never import
this package."""
