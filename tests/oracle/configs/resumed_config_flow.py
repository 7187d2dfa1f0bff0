"""A run made with --config-value fails; its resume keeps that config (and refuses a new one), as Metaflow's."""
import os

from metaflow import Config, FlowSpec, step


class ResumedConfigFlow(FlowSpec):
    config = Config("config", default_value={"value": "the default"})

    @step
    def start(self):
        print("start", self.config.value)
        self.next(self.end)

    @step
    def end(self):
        print("end", self.config.value)
        if os.path.exists("fail"):
            os.remove("fail")
            raise ValueError("failing once")


if __name__ == "__main__":
    ResumedConfigFlow()
