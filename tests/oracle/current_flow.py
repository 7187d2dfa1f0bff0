"""What `current` tells a step: names, attempt, namespace, user, parameters, the graph."""
import json

from metaflow import FlowSpec, Parameter, current, step


class CurrentFlow(FlowSpec):
    """A flow about current."""
    beta = Parameter('beta', default=2)
    alpha = Parameter('alpha', default=0.5, help='learning rate')
    LIMIT = 10

    @step
    def start(self):
        """The first step."""
        print('flow', current.flow_name, 'step', current.step_name)
        print('retry', current.retry_count, 'origin', current.origin_run_id)
        print('namespace', current.namespace, 'user', current.username)
        print('tags', current.tags, 'running', current.is_running_flow)
        print('parameters', current.parameter_names)
        print('str', str(self))
        graph = current.graph
        print('graph', graph['start_step'], graph['end_step'], graph['doc'], graph['graph_structure'])
        print('graph parameters', graph['parameters'], graph['constants'])
        print('steps', json.dumps({name: [info['type'], info['next'], info['doc']]
                                    for name, info in graph['steps'].items()}, sort_keys=True))
        self.items = ['x', 'y']
        self.next(self.each, foreach='items')

    @step
    def each(self):
        print('each', str(self), current.retry_count)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        print('end', current.parameter_names)


if __name__ == '__main__':
    CurrentFlow()
