"""The weekly tenant report (issue 12): one self-contained HTML file per tenant and ISO week.

data.py loads a tenant-week from the warehouse, svg.py draws the charts, html.py builds the page,
output.py writes it (`<report dir>/<tenant>/<week>.html`), week.py holds the week logic and the
asset's partitions, cli.py is `askpro report`; the asset is assets/tenant_report.py.
"""
