"""IntelliVue nomenclature codes used by this driver (fact sheet §5-§10).

Only the codes the driver and its monitor side need; every value is from the fact sheet
(``/work/shared/protocols/intellivue.md``), where each is cross-checked against two or more
open implementations.
"""

from __future__ import annotations

from typing import Final

# -- association (§5.2) ------------------------------------------------------------------
MDDL_VERSION1: Final = 0x80000000
NOMEN_VERSION: Final = 0x40000000
SYST_CLIENT: Final = 0x80000000
SYST_SERVER: Final = 0x00800000
COLD_START: Final = 0x20000000
NOM_POLL_PROFILE_SUPPORT: Final = 0x0001
NOM_ATTR_POLL_PROFILE_EXT: Final = 0xF001
POLL_PROFILE_REV_0: Final = 0x80000000
P_OPT_DYN_CREATE_OBJECTS: Final = 0x40000000
P_OPT_DYN_DELETE_OBJECTS: Final = 0x20000000
POLL_EXT_PERIOD_NU_1SEC: Final = 0x80000000
POLL_EXT_PERIOD_MASK: Final = 0xF0000000  # any of the four numeric-period bits

# -- remote operations (§6) ----------------------------------------------------------------
SESSION_ID: Final = 0xE100
P_CONTEXT_ID: Final = 0x0002
ROIV: Final = 1
RORS: Final = 2
ROER: Final = 3
RORJ: Final = 4  # reject (ROSE); not on the fact sheet: invoke_id | problem | length
ROLRS: Final = 5
CMD_EVENT_REPORT: Final = 0
CMD_CONFIRMED_EVENT_REPORT: Final = 1
CMD_CONFIRMED_ACTION: Final = 7
RORLS_FIRST: Final = 1
RORLS_NOT_FIRST_NOT_LAST: Final = 2
RORLS_LAST: Final = 3

ERROR_NAMES: Final[dict[int, str]] = {
    0: "NO_SUCH_OBJECT_CLASS",
    1: "NO_SUCH_OBJECT_INSTANCE",
    2: "ACCESS_DENIED",
    7: "GET_LIST_ERROR",
    8: "SET_LIST_ERROR",
    9: "NO_SUCH_ACTION",
    10: "PROCESSING_FAILURE",
    15: "INVALID_ARGUMENT_VALUE",
    16: "INVALID_SCOPE",
    17: "INVALID_OBJECT_INSTANCE",
}

# -- objects, events, actions (§7, §8) ---------------------------------------------------
NOM_PART_OBJ: Final = 1
NOM_MOC_VMS_MDS: Final = 0x0021
NOM_MOC_VMO_METRIC_NU: Final = 0x0006
NOM_MOC_VMO_AL_MON: Final = 0x0036
NOM_NOTI_MDS_CREAT: Final = 0x0D06
NOM_ACT_POLL_MDIB_DATA: Final = 0x0C16
NOM_ACT_POLL_MDIB_DATA_EXT: Final = 0xF13B
NOM_ATTR_GRP_METRIC_VAL_OBS: Final = 0x0803
NOM_ATTR_GRP_VMO_STATIC: Final = 0x0811

# -- attributes (§8.1, §8.3, §8.5) --------------------------------------------------------
NOM_ATTR_TIME_ABS: Final = 0x0987
NOM_ATTR_TIME_REL: Final = 0x098F
NOM_ATTR_ID_BED_LABEL: Final = 0x091E
NOM_ATTR_SYS_TYPE: Final = 0x0986
NOM_ATTR_VMS_MDS_STAT: Final = 0x09A7
NOM_ATTR_TIME_PD_POLL: Final = 0xF13E
NOM_ATTR_NU_VAL_OBS: Final = 0x0950
NOM_ATTR_NU_CMPD_VAL_OBS: Final = 0x094B
NOM_ATTR_TIME_STAMP_ABS: Final = 0x0990
NOM_ATTR_TIME_STAMP_REL: Final = 0x0991
MDS_STAT_OPERATING: Final = 6

# -- physiological ids (§10) ---------------------------------------------------------------
NOM_ECG_CARD_BEAT_RATE: Final = 0x4182
NOM_PLETH_PULS_RATE: Final = 0x4822
NOM_PULS_OXIM_SAT_O2: Final = 0x4BB8
NOM_RESP_RATE: Final = 0x500A
NOM_AWAY_RESP_RATE: Final = 0x5012
NOM_PRESS_BLD_NONINV: Final = 0x4A04
NOM_PRESS_BLD_NONINV_SYS: Final = 0x4A05
NOM_PRESS_BLD_NONINV_DIA: Final = 0x4A06
NOM_PRESS_BLD_NONINV_MEAN: Final = 0x4A07

# -- units (§10) ---------------------------------------------------------------------------
NOM_DIM_NOS: Final = 0x0000
NOM_DIM_DIMLESS: Final = 0x0200
NOM_DIM_PERCENT: Final = 0x0220
NOM_DIM_BEAT_PER_MIN: Final = 0x0AA0
NOM_DIM_RESP_PER_MIN: Final = 0x0AE0
NOM_DIM_MMHG: Final = 0x0F20
NOM_DIM_KILO_PASCAL: Final = 0x0F03

# -- MeasurementState bits (§8.5) ----------------------------------------------------------
MS_INVALID: Final = 0x8000
MS_QUESTIONABLE: Final = 0x4000
MS_UNAVAILABLE: Final = 0x2000
MS_CALIBRATION_ONGOING: Final = 0x1000
MS_TEST_DATA: Final = 0x0800
MS_DEMO_DATA: Final = 0x0400
MS_VALIDATED_DATA: Final = 0x0080
MS_EARLY_INDICATION: Final = 0x0040
MS_MSMT_ONGOING: Final = 0x0020

# -- time (§7, §11) ------------------------------------------------------------------------
TICKS_PER_SECOND: Final = 8000  # RelativeTime unit: 1/8 ms
