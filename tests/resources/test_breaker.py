"""The breaker's state shared between breakers (as between the run and its detail helper processes)."""

import pytest

from askpro_pipelines.resources.breaker import BreakerOpen, CircuitBreaker


def test_breakers_attached_to_one_shared_state_count_failures_together_and_probe_once():
    run = CircuitBreaker(failure_threshold=3, cooldown_s=0.0)
    run.record_failure()
    run.record_failure()  # counted before sharing: the state moves into shared memory
    helper = CircuitBreaker(failure_threshold=3, cooldown_s=0.0, shared_fd=run.share())
    assert helper.consecutive_failures == 2 and helper.state == "closed"
    helper.record_failure()  # the third failure, in the other "process"
    assert run.consecutive_failures == 3
    run.before_request()  # cool-down over: this is the one probe
    with pytest.raises(BreakerOpen):  # nobody else gets through while it is out
        helper.before_request()
    helper.record_success()
    assert (run.state, run.consecutive_failures) == ("closed", 0)
    run.before_request()
    helper.before_request()


def test_only_a_breaker_on_the_system_clock_can_be_shared():
    with pytest.raises(ValueError, match="time.monotonic"):
        CircuitBreaker(clock=lambda: 0.0).share()
