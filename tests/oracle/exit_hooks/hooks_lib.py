def page(run):
    print('hook: page, by its import path', run.successful)
