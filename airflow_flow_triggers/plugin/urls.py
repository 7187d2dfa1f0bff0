"""Where the plugin lives in the api-server: the one URL prefix its page, API and static files share."""
URL_PREFIX = "/flow-triggers"
