"""`fartrack_node` as a managed (lifecycle) node: the `fartrack_node` executable and the launch
files start this one; the plain node (fartrack_ros.ros.node) does the same work without states.

States, driven through the standard lifecycle services (`<node>/change_state`,
`<node>/get_state`, `<node>/get_available_transitions`; `ros2 lifecycle set <node> configure`):

  unconfigured --configure--> inactive    every parameter checked, the model loaded
  inactive     --activate---> active      images subscribed, detections / status published,
                                          set_target and stop served
  active       --deactivate-> inactive    unsubscribed, worker stopped, target dropped, model kept
  inactive     --cleanup----> unconfigured  the model freed
  any primary state --shutdown--> finalized

A transition that fails (a missing or corrupt weights file, a bad parameter value) goes to the
error-processing transition: the reason is logged, kept as `last_error` (on /diagnostics, and
in the answers of set_target / stop), everything is released and the node is back in
unconfigured, ready for a corrected parameter and another configure; the change_state call
answers `success: false`. With `autostart: true` the node configures and activates itself at
start-up (the launch file sets it; `fartrack demo` calls the services).
"""
from __future__ import annotations

import sys
from typing import Optional

from diagnostic_msgs.msg import DiagnosticStatus
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from fartrack_ros.ros.node import NODE_NAME, TrackerAdapter, run_node
from fartrack_ros.ros.parameters import LIFECYCLE_PARAMETERS

ACTIVE = "active"


class FARTrackLifecycleNode(TrackerAdapter, LifecycleNode):
    EXTRA_PARAMETERS = LIFECYCLE_PARAMETERS

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        LifecycleNode.__init__(self, node_name, **kwargs)
        self._transition_error = ""
        self._init_adapter()
        self._create_interfaces()

    # ------------------------------------------------------------------ adapter hooks
    def _publisher(self, msg_type, topic: str, qos):
        # publishes only while the node is active
        return self.create_lifecycle_publisher(msg_type, topic, qos)

    @property
    def lifecycle_state(self) -> str:
        return self._state_machine.current_state[1]

    def _inactive_reason(self) -> str:
        reason = (f"the node is {self.lifecycle_state}, not active (activate it through "
                  f"{self.get_fully_qualified_name()}/change_state)")
        return f"{reason}; last transition: {self._transition_error}" if self._transition_error else reason

    def _state_name(self) -> str:
        if self._tracker is None and not (self._model_error or self._transition_error):
            return "idle"                  # unconfigured: no model yet, nothing wrong
        return super()._state_name()

    def _lifecycle_diagnostics(self) -> Optional[tuple]:
        state = self.lifecycle_state
        if state == ACTIVE:
            return state, None
        if self._transition_error:
            return state, (DiagnosticStatus.ERROR, f"{state}: {self._transition_error}")
        return state, (DiagnosticStatus.WARN, f"{state}, not tracking (lifecycle node)")

    # ------------------------------------------------------------------ transitions
    def _transition(self, name: str, step, done=None) -> TransitionCallbackReturn:
        """Run one transition's work; any failure goes to error processing with its reason.
        On success ``done()`` gives the line logged (read after the work: it may describe it)."""
        try:
            error = step()
        except Exception as exc:          # rclpy would turn it into ERROR without a word
            error = f"{type(exc).__name__}: {exc}"
        if error:
            self._transition_error = f"{name} failed: {error}"
            self._last_error = self._transition_error
            self.get_logger().error(self._transition_error)
            return TransitionCallbackReturn.ERROR
        self._transition_error = ""
        if done is not None:
            self.get_logger().info(done())
        return TransitionCallbackReturn.SUCCESS

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition("configure", self._load_model,
                                lambda: f"configured: model {self._model_summary}")

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)            # the lifecycle publishers
        if result != TransitionCallbackReturn.SUCCESS:
            return result
        return self._transition("activate", self._start_tracking)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = self._transition("deactivate", self._stop_tracking,
                                  lambda: "deactivated: not subscribed, model kept")
        return super().on_deactivate(state) if result == TransitionCallbackReturn.SUCCESS else result

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = self._transition("cleanup", self._unload_model, lambda: "cleaned up: model freed")
        return super().on_cleanup(state) if result == TransitionCallbackReturn.SUCCESS else result

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Error processing: release everything and go back to unconfigured, keeping the
        reason for /diagnostics and the service answers."""
        self.get_logger().error(f"error processing after a failed transition from "
                                f"{state.label}: {self._transition_error or 'unknown error'}; "
                                "released, back to unconfigured")
        self._release()
        super().on_error(state)
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        self._stop_tracking()
        self._unload_model()
        LifecycleNode.on_deactivate(self, None)        # the lifecycle publishers stop publishing


def _autostart(node: FARTrackLifecycleNode) -> None:
    if not node.get_parameter("autostart").value:
        node.get_logger().info(f"unconfigured; configure and activate through "
                               f"{node.get_fully_qualified_name()}/change_state")
        return
    if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
        node.trigger_activate()


def main(argv: Optional[list] = None) -> int:
    """The managed node (the `fartrack_node` executable)."""
    return run_node(FARTrackLifecycleNode, argv, started=_autostart)


if __name__ == "__main__":
    sys.exit(main())
