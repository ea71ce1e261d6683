"""GE Healthcare / Datex-Ohmeda S/5 Computer Interface (DRI records over RS-232): the host
driver (:mod:`.driver`) and the monitor side its tests and simulator use (:mod:`.monitor`)."""
