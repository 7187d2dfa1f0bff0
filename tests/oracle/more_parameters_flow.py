"""Parameters with help, required, separator, and IncludeFile (text and bytes), as Metaflow parses them."""
from metaflow import FlowSpec, IncludeFile, Parameter, step


class MoreParametersFlow(FlowSpec):
    who = Parameter('who', help='who runs it', required=True)
    colors = Parameter('colors', default='red,green', separator=',', help='a list, comma-separated')
    table = IncludeFile('table', default='more_parameters_flow.csv', help='a CSV file')
    raw = IncludeFile('raw', default='more_parameters_flow.csv', is_text=False)

    @step
    def start(self):
        print('who', repr(self.who), 'colors', self.colors)
        rows = [line.split(',') for line in self.table.splitlines()]
        print('table', rows)
        print('raw', type(self.raw).__name__, len(self.raw))
        self.next(self.end)

    @step
    def end(self):
        print('end', self.colors, self.table.splitlines()[0])


if __name__ == '__main__':
    MoreParametersFlow()
