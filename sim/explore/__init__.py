"""`negsim explore`: a local web app for moving a scenario's numbers and watching the outcome move.

    knobs        every uncertain or judgement number of a scenario, with its quote and source
    model        slider settings -> overrides -> seeded runs and the deal space -> the numbers shown
    results      a results folder read run by run
    figures      the Bokeh figures, updated in place from the model's numbers
    app          the scenario page (Panel)
    results_app  the results-folder page (Panel)
    serve        serving either page offline on localhost

knobs, model and results are plain Python, testable without a browser; only app, results_app
and serve import Panel.
"""

#: Seeded runs behind every view of a scenario by default, and the most a page may ask for
#: (beyond it a slider move takes seconds, not one). Here, so the CLI can name them cheaply.
DEFAULT_RUNS = 500
MAX_RUNS = 4000
