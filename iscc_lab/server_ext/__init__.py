"""The REST face: a Jupyter server extension serving the ISCC REST contract at
`{base_url}api/v1`, enabled on install through jupyter_server_config.d."""


def _jupyter_server_extension_points():
    from iscc_lab.server_ext.app import IsccLabApp

    return [{"module": "iscc_lab.server_ext.app", "app": IsccLabApp}]
