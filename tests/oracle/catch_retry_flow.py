"""@catch after @retry's last try, @catch alone, and a step that succeeds under @catch (var is None)."""
from metaflow import FlowSpec, catch, current, retry, step


class CatchRetryFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @catch(var='flaky_error')
    @retry(times=2, minutes_between_retries=0)
    @step
    def flaky(self):
        print('attempt', current.retry_count)
        raise ValueError('always fails')
        self.next(self.quiet)

    @catch(var='quiet_error', print_exception=False)
    @step
    def quiet(self):
        self.before = 'set before the error'
        print('quiet attempt', current.retry_count)
        {}['missing']
        self.next(self.fine)

    @catch(var='fine_error')
    @step
    def fine(self):
        self.value = 42
        self.next(self.end)

    @step
    def end(self):
        print('flaky', self.flaky_error.type, self.flaky_error.exception)
        print('quiet', self.quiet_error.type, self.quiet_error.exception)
        print('fine', self.fine_error, self.value)


if __name__ == '__main__':
    CatchRetryFlow()
