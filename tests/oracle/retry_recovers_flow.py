"""@retry that recovers: the first attempt fails, the second succeeds and its artifacts are the ones kept.

No wait between the attempts: bare @retry waits Metaflow's 2 minutes (bare_decorators_flow covers a bare
@retry, test_decorators its defaults), which would only make both runs of this case 2 minutes longer."""
from metaflow import FlowSpec, current, retry, step


class RetryRecoversFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry(minutes_between_retries=0)
    @step
    def flaky(self):
        self.attempt = current.retry_count
        print('attempt', current.retry_count)
        if current.retry_count == 0:
            raise ConnectionError('first attempt fails')
        self.next(self.end)

    @step
    def end(self):
        print('kept attempt', self.attempt)


if __name__ == '__main__':
    RetryRecoversFlow()
