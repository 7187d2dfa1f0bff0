from metaflow import FlowSpec, exit_hook, step

FAIL_AT_END = True      # the test runs the flow as it is (it fails), then resumes it with False (it succeeds)


def announce():
    print('hook: announce, called with nothing')


def report(run):
    print('hook: report', run.successful, run.finished, run['start'].task.data.rows, [step.id for step in run])


def explode():
    print('hook: explode, before it raises')
    raise RuntimeError('the notification service is down')


def collect(**kwargs):
    print('hook: collect', sorted(kwargs), kwargs['run'].pathspec.split('/')[0])


@exit_hook(on_success=[report], on_error=['hooks_lib.page'])
@exit_hook(on_success=[announce, explode, 'collect'], on_error=[report, explode, 'no_such_hook', collect])
class ExitHookFlow(FlowSpec):

    @step
    def start(self):
        self.rows = 7
        print('start ran')
        self.next(self.end)

    @step
    def end(self):
        if FAIL_AT_END:
            raise ValueError('the end step fails')
        print('end ran')


if __name__ == '__main__':
    ExitHookFlow()
