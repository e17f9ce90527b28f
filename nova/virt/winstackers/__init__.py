"""Where nova 34 looks for compute drivers (``nova.virt.<name>``).

Nova imports ``nova.virt.`` + ``[DEFAULT] compute_driver``, so with
``compute_driver = winstackers.HyperVDriver`` it finds this package,
installed by Winstackers beside nova's own drivers.  Nothing else lives
here: the driver is :class:`winstackers.nova.driver.HyperVDriver`.
"""

from winstackers.nova.driver import HyperVDriver

__all__ = ["HyperVDriver"]
