"""Console entry points; each module's ``main(argv=None)`` is a ``summ-*`` command, built on the
shared conventions of :mod:`summ_plugin.cli.common`."""
