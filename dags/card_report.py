"""Cards (@card): a training report in two cards of the `train` step (docs/cards.md); with matplotlib
installed, a figure too.

    python card_report.py run
    python card_report.py card list train
    python card_report.py card view train --id metrics
"""
import random
import time

from airflow_flow_triggers import FlowSpec, Parameter, card, current, project, step
from airflow_flow_triggers.cards import Image, Markdown, ProgressBar, Table, VegaChart


@project(name='example_project')
class CardReportFlow(FlowSpec):
    epochs = Parameter('epochs', default=8, help='how many passes over the data')
    rate = Parameter('rate', default=0.01, help='the learning rate')

    @step
    def start(self):
        rng = random.Random(42)
        self.xs = [round(rng.uniform(0, 4), 2) for _ in range(120)]      # measurements: y = 3x + 2, noisy
        self.ys = [round(3.0 * x + 2.0 + rng.gauss(0, 0.5), 2) for x in self.xs]
        self.next(self.train)

    # Two cards: the default one (the task's artifacts, parameters and DAG) is the one `current.card` edits,
    # having no id; the blank one is reached by its id, current.card['metrics'].
    @card(refresh_interval=1)
    @card(type='blank', id='metrics', options={'title': 'Training report'})
    @step
    def train(self):
        bar = ProgressBar(max=self.epochs, label='Epochs')
        current.card.append(bar)            # onto the default card
        slope, intercept, self.history = 0.0, 0.0, []
        for epoch in range(1, self.epochs + 1):
            for x, y in zip(self.xs, self.ys, strict=True):
                error = slope * x + intercept - y
                slope -= self.rate * error * x
                intercept -= self.rate * error
            loss = sum((slope * x + intercept - y) ** 2 for x, y in zip(self.xs, self.ys, strict=True)) / len(self.xs)
            self.history.append({'epoch': epoch, 'loss': round(loss, 4), 'slope': round(slope, 3),
                                 'intercept': round(intercept, 3)})
            bar.update(epoch, metadata=f'loss {loss:.4f}')
            current.card.refresh()          # stores the card now (at most once per refresh_interval seconds)
            time.sleep(0.5)
        self.model = {'slope': slope, 'intercept': intercept}

        report = current.card['metrics']
        report.append(Markdown(f"""
            # y = {slope:.2f}·x + {intercept:.2f}

            Fitted by stochastic gradient descent: {self.epochs} epochs at rate {self.rate}, final loss
            (mean squared error) **{loss:.4f}**."""))
        report.append(Table([[h['epoch'], h['loss'], h['slope'], h['intercept']] for h in self.history],
                            headers=['epoch', 'loss', 'slope', 'intercept']))
        report.append(VegaChart({
            '$schema': 'https://vega.github.io/schema/vega-lite/v5.json',
            'title': 'Loss per epoch',
            'data': {'values': self.history},
            'mark': {'type': 'line', 'point': True},
            'encoding': {'x': {'field': 'epoch', 'type': 'quantitative'},
                         'y': {'field': 'loss', 'type': 'quantitative', 'scale': {'zero': False}}},
        }))
        report.append(self.figure(slope, intercept))
        self.next(self.end)

    def figure(self, slope, intercept):
        """The data and the fitted line, drawn by matplotlib where the workers have it."""
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            return Markdown("_Install matplotlib on the workers to see the data and the fitted line here._")
        figure, axes = plt.subplots(figsize=(6, 3.5))
        axes.scatter(self.xs, self.ys, s=8, alpha=0.5, label='data')
        axes.plot([0, 4], [intercept, 4 * slope + intercept], color='crimson', label='model')
        axes.set_xlabel('x')
        axes.set_ylabel('y')
        axes.legend()
        return Image.from_matplotlib(figure, label='The fitted line')

    @step
    def end(self):
        print(f"{current.project_flow_name}: y = {self.model['slope']:.2f}x + {self.model['intercept']:.2f}")


if __name__ == '__main__':
    CardReportFlow()
