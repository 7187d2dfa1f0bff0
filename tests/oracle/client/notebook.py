"""What alice types in a notebook after the runs of test_client_oracle.py: namespaces, latest runs, tags, run
counts and the errors of objects outside her namespace. Each line it prints must be the same under Metaflow
and under airflow_flow_triggers (only this import line differs)."""
from metaflow import Flow, Metaflow, Run, default_namespace, get_namespace, namespace

SHOWN_TAGS = ('user:', 'project:', 'project_branch:', 'runtime:')


def marks(runs):
    return sorted(run.data.mark for run in runs)


def tags(run):
    return sorted(tag for tag in run.tags if tag.startswith(SHOWN_TAGS) or ':' not in tag)


def error(make):
    try:
        make()
    except Exception as e:          # Metaflow's and ours differ in module; the kind is what matters
        name = type(e).__name__
        return 'namespace mismatch' if 'NamespaceMismatch' in name else 'not found' if 'NotFound' in name \
            else name
    return 'no error'


print('namespace', get_namespace(), default_namespace())
print('flows', sorted(flow.id for flow in Metaflow().flows))
flow = Flow('ClientFlow')
latest = flow.latest_run
print('latest', latest.pathspec.split('/')[0], latest.data.mark, latest.successful, latest.finished)
print('latest tags', tags(latest), sorted(latest.user_tags))
print('latest previous', latest.data.previous_mark, latest.data.seen_namespace)
print('alice', marks(flow), marks(flow.runs('experiment')), marks(flow.runs('project_branch:test.new_model')))
print('steps', sorted(step.id for step in latest), latest['start'].task.data.mark, latest['end'].task.successful)
print('by pathspec', Run(latest.pathspec).data.mark, flow[latest.id].data.mark)
alices = latest.pathspec

print('switch', namespace('user:bob'))
print('bob', marks(Flow('ClientFlow')), Flow('ClientFlow').latest_run.data.mark)
print('foreign run', error(lambda: Run(alices)))
print('unknown flow', error(lambda: Flow('NoSuchFlow')))

print('switch', namespace('project_branch:prod'))
print('prod', marks(Flow('ClientFlow')), tags(Flow('ClientFlow').latest_run))
print('switch', namespace('user:carol'))
print('carol', error(lambda: Flow('ClientFlow')), sorted(flow.id for flow in Metaflow().flows))
print('switch', namespace(None))
print('everyone', marks(Flow('ClientFlow')), Run(alices).data.mark)
print('back', default_namespace(), marks(Flow('ClientFlow')))
