"""@retry that recovers: the first attempt fails, the second succeeds and its artifacts are the ones kept."""
from metaflow import FlowSpec, current, retry, step


class RetryRecoversFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.flaky)

    @retry
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
