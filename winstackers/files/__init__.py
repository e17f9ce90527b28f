"""File channels to a Hyper-V host's folders (see :mod:`.api`).

Used by the compute driver (images, config drives, instance folders); not a
CIM transport, and the host library does not import it.  The SMB channel
needs the ``smbprotocol`` package (the ``nova`` extra).
"""

from winstackers.files.api import CHUNK, FileChannel, FileChannelError, Unavailable
from winstackers.files.local import DirectoryChannel, LocalChannel
from winstackers.files.open import open_channel
from winstackers.files.smb import SmbChannel

__all__ = ["CHUNK", "DirectoryChannel", "FileChannel", "FileChannelError", "LocalChannel",
           "SmbChannel", "Unavailable", "open_channel"]
