"""The WMI classes Winstackers uses: names, properties, CIM types, keys,
method parameters.

Each class is declared as Microsoft's MOF on Learn declares it (the class
pages under https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/),
limited to the properties Winstackers and Hyper-V management code use.
Two users need these facts: the emulated host, which refuses any class or
property not declared here (so a typo in the code under test fails loudly),
and the WS-Management transport, which cannot read types off the wire
(:class:`MofCatalog`).

Not declared: the rest of ``root/virtualization/v2`` (snapshots,
replication, migration, keyboards, video, physical disks, floppies, ...).  The
generated coverage page (``docs/emulator-coverage.md``) lists exactly what
is declared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from winstackers.cim.errors import InvalidParameter, NotFound


@dataclass(frozen=True)
class Prop:
    """One property: CIM type (``[]`` suffix for arrays), default, key flag."""

    type: str
    default: Any = None
    key: bool = False


@dataclass(frozen=True)
class CimClass:
    """One class: its properties (inherited ones included) and methods."""

    name: str
    superclass: str | None
    properties: Mapping[str, Prop]
    methods: tuple[str, ...] = ()
    abstract: bool = False
    association: bool = False
    doc: str = ""
    #: Methods Microsoft documents for the class whose parameters are not
    #: declared here (the emulator does not have them).
    not_emulated: tuple[str, ...] = ()
    namespace: str = "root/virtualization/v2"
    _index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({name.lower(): name for name in self.properties})

    @property
    def keys(self) -> tuple[str, ...]:
        """The key property names."""
        return tuple(name for name, prop in self.properties.items() if prop.key)

    def canonical(self, prop: str) -> str:
        """The property name as declared.

        :raises InvalidParameter: when the class has no such property.
        """
        try:
            return self._index[prop.lower()]
        except KeyError:
            raise InvalidParameter(where=self.name, detail=f"class has no property {prop!r}") \
                from None

    def has(self, prop: str) -> bool:
        """Whether *prop* is a property of this class."""
        return prop.lower() in self._index

    def defaults(self) -> dict[str, Any]:
        """A fresh property dict with every default (lists copied)."""
        return {name: list(p.default) if isinstance(p.default, list) else p.default
                for name, p in self.properties.items()}

    def types(self) -> dict[str, str]:
        """Property name to CIM type."""
        return {name: p.type for name, p in self.properties.items()}


def _props(*groups: Mapping[str, Prop], **more: Prop) -> dict[str, Prop]:
    merged: dict[str, Prop] = {}
    for group in groups:
        merged.update(group)
    merged.update(more)
    return merged


S, B, U8, U16, U32, U64 = "string", "boolean", "uint8", "uint16", "uint32", "uint64"
SA, U16A = "string[]", "uint16[]"

MANAGED = {"Caption": Prop(S), "Description": Prop(S), "ElementName": Prop(S)}
SETTING = _props(MANAGED, InstanceID=Prop(S, key=True))
SYSTEM_KEYS = {"CreationClassName": Prop(S, key=True), "Name": Prop(S, key=True)}
DEVICE_KEYS = {"CreationClassName": Prop(S, key=True), "DeviceID": Prop(S, key=True),
               "SystemCreationClassName": Prop(S, key=True), "SystemName": Prop(S, key=True)}
SERVICE_KEYS = _props(SYSTEM_KEYS, SystemCreationClassName=Prop(S, key=True),
                      SystemName=Prop(S, key=True))
DEVICE_KEYS = {"CreationClassName": Prop(S, key=True), "DeviceID": Prop(S, key=True),
               "SystemCreationClassName": Prop(S, key=True), "SystemName": Prop(S, key=True)}
RASD = _props(
    SETTING, ResourceType=Prop(U16), OtherResourceType=Prop(S), ResourceSubType=Prop(S),
    PoolID=Prop(S, ""), ConsumerVisibility=Prop(U16), HostResource=Prop(SA, []),
    AllocationUnits=Prop(S), VirtualQuantity=Prop(U64), Reservation=Prop(U64),
    Limit=Prop(U64), Weight=Prop(U32), AutomaticAllocation=Prop(B, True),
    AutomaticDeallocation=Prop(B, True), Parent=Prop(S), Connection=Prop(SA),
    Address=Prop(S), MappingBehavior=Prop(U16), AddressOnParent=Prop(S),
    VirtualQuantityUnits=Prop(S), VirtualSystemIdentifiers=Prop(SA),
)

VSMS_METHODS = ("DefineSystem", "DestroySystem", "ModifySystemSettings", "AddResourceSettings",
                "ModifyResourceSettings", "RemoveResourceSettings", "AddFeatureSettings",
                "ModifyFeatureSettings", "RemoveFeatureSettings", "GetSummaryInformation")
VSMS_NOT_EMULATED = ("ExportSystemDefinition", "ImportSystemDefinition", "PlanSystem",
                     "RealizePlannedSystem", "ValidatePlannedSystem", "AddKvpItems",
                     "ModifyKvpItems", "RemoveKvpItems", "ModifyServiceSettings",
                     "GetDefinitionFileSummaryInformation", "GetVirtualSystemThumbnailImage",
                     "GetSizeOfSystemFiles", "AddBootSourceSettings", "ModifyDiskMergeSettings",
                     "SetGuestNetworkAdapterConfiguration", "UpgradeSystemVersion",
                     "AddSystemComponentSettings", "ModifySystemComponentSettings",
                     "RemoveSystemComponentSettings", "ImportSnapshotDefinitions",
                     "AddFibreChannelChassisSettings", "RemoveBootSourceSettings")

_DOC = "https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/"

#: Storage and serial ports: controllers and drives are
#: Msvm_ResourceAllocationSettingData, disk and ISO images
#: Msvm_StorageAllocationSettingData, files Msvm_ImageManagementService's.
STORAGE_CLASSES: tuple[CimClass, ...] = (
    CimClass("Msvm_ResourceAllocationSettingData", "CIM_ResourceAllocationSettingData", RASD,
             doc=_DOC + "msvm-resourceallocationsettingdata"),
    CimClass("Msvm_StorageAllocationSettingData", "CIM_ResourceAllocationSettingData", _props(
        {k: v for k, v in RASD.items() if k != "VirtualSystemIdentifiers"},
        Caption=Prop(S, "Hard Disk Image Default Settings"), Limit=Prop(U64, 1),
        VirtualQuantityUnits=Prop(S, "count(fixed size block)"), StorageQoSPolicyID=Prop(S),
        VirtualResourceBlockSize=Prop(U64), Access=Prop(U16), HostResourceBlockSize=Prop(U64),
        IOPSLimit=Prop(U64), IOPSReservation=Prop(U64), IOPSAllocationUnits=Prop(S),
        PersistentReservationsSupported=Prop(B), CachingMode=Prop(U16), SnapshotId=Prop(S, ""),
        IgnoreFlushes=Prop(B), WriteHardeningMethod=Prop(U16)),
        doc=_DOC + "msvm-storageallocationsettingdata"),
    CimClass("Msvm_SerialPortSettingData", "CIM_ResourceAllocationSettingData",
             _props(RASD, DebuggerMode=Prop(B, False)), doc=_DOC + "msvm-serialportsettingdata"),
    CimClass("Msvm_ImageManagementService", None, _props(MANAGED, SERVICE_KEYS),
             methods=("CreateVirtualHardDisk", "GetVirtualHardDiskSettingData",
                      "ResizeVirtualHardDisk"),
             not_emulated=("AttachVirtualHardDisk", "CompactVirtualHardDisk",
                           "ConvertVirtualHardDisk", "ConvertVirtualHardDiskToVHDSet",
                           "CreateVirtualFloppyDisk", "DeleteVHDSnapshot",
                           "FindMountedStorageImageInstance", "GetVHDSetInformation",
                           "GetVHDSnapshotInformation", "GetVirtualDiskChanges",
                           "GetVirtualHardDiskState", "MergeVirtualHardDisk", "OptimizeVHDSet",
                           "RequestStateChange", "SetParentVirtualHardDisk",
                           "SetVHDSnapshotInformation", "SetVirtualHardDiskSettingData",
                           "StartService", "StopService", "ValidatePersistentReservationSupport",
                           "ValidateVirtualHardDisk"),
             doc=_DOC + "msvm-imagemanagementservice"),
    # Embedded only: GetVirtualHardDiskSettingData returns it, CreateVirtualHardDisk takes it.
    CimClass("Msvm_VirtualHardDiskSettingData", None, _props(
        SETTING, Caption=Prop(S, "Virtual Hard Disk Setting Data"),
        Description=Prop(S, "Setting Data for a Virtual Hard Disk"), Type=Prop(U16),
        Format=Prop(U16), Path=Prop(S), ParentPath=Prop(S), ParentTimestamp=Prop("datetime"),
        ParentIdentifier=Prop(S), MaxInternalSize=Prop(U64), BlockSize=Prop(U32),
        LogicalSectorSize=Prop(U32), PhysicalSectorSize=Prop(U32), VirtualDiskId=Prop(S),
        DataAlignment=Prop(U64), PmemAddressAbstractionType=Prop(U16),
        IsPmemCompatible=Prop(B)), doc=_DOC + "msvm-virtualharddisksettingdata"),
)


def _feature(name: str, **props: Prop) -> CimClass:
    return CimClass(name, "Msvm_EthernetSwitchPortFeatureSettingData", _props(SETTING, **props),
                    doc=_DOC + name.lower())


CLASSES: tuple[CimClass, ...] = (
    CimClass("CIM_ResourceAllocationSettingData", None, RASD, abstract=True,
             doc="https://www.dmtf.org/standards/cim (CIM_ResourceAllocationSettingData)"),
    CimClass("Msvm_EthernetSwitchPortFeatureSettingData", None, SETTING, abstract=True,
             doc=_DOC + "msvm-ethernetswitchportfeaturesettingdata"),
    CimClass("Msvm_ComputerSystem", None, _props(
        MANAGED, SYSTEM_KEYS, EnabledState=Prop(U16, 3), RequestedState=Prop(U16, 12),
        EnabledDefault=Prop(U16, 2), HealthState=Prop(U16, 5), OperationalStatus=Prop(U16A, [2]),
        OnTimeInMilliseconds=Prop(U64, 0), ProcessID=Prop(U32), NumberOfNumaNodes=Prop(U16, 1),
        AvailableRequestedStates=Prop(U16A, []), InstallDate=Prop("datetime"),
    ), methods=("RequestStateChange",),
        not_emulated=("SetPowerState", "RequestReplicationStateChange"),
        doc=_DOC + "msvm-computersystem"),
    CimClass("Msvm_VirtualSystemManagementService", None, _props(MANAGED, SERVICE_KEYS),
             methods=VSMS_METHODS, not_emulated=VSMS_NOT_EMULATED,
             doc=_DOC + "msvm-virtualsystemmanagementservice"),
    CimClass("Msvm_VirtualEthernetSwitchManagementService", None, _props(MANAGED, SERVICE_KEYS),
             methods=("DefineSystem", "DestroySystem"),
             not_emulated=("ModifySystemSettings", "AddResourceSettings", "ModifyResourceSettings",
                           "RemoveResourceSettings", "AddFeatureSettings", "ModifyFeatureSettings",
                           "RemoveFeatureSettings"),
             doc=_DOC + "msvm-virtualethernetswitchmanagementservice"),
    CimClass("Msvm_VirtualEthernetSwitchManagementCapabilities", None, _props(
        SETTING, IOVSupport=Prop(B, True), IOVSupportReasons=Prop(SA, [])),
        doc=_DOC + "msvm-virtualethernetswitchmanagementcapabilities"),
    CimClass("Msvm_VirtualSystemSettingData", None, _props(
        SETTING, VirtualSystemIdentifier=Prop(S), VirtualSystemType=Prop(
            S, "Microsoft:Hyper-V:System:Realized"),
        VirtualSystemSubType=Prop(S, "Microsoft:Hyper-V:SubType:1"), ConfigurationID=Prop(S),
        Notes=Prop(SA, []), SecureBootEnabled=Prop(B, False), SecureBootTemplateId=Prop(S),
        Version=Prop(S, "9.0"), AutomaticStartupAction=Prop(U16, 2),
        AutomaticShutdownAction=Prop(U16, 3), BIOSGUID=Prop(S),
    ), doc=_DOC + "msvm-virtualsystemsettingdata"),
    CimClass("Msvm_MemorySettingData", "CIM_ResourceAllocationSettingData", _props(
        RASD, DynamicMemoryEnabled=Prop(B, False), TargetMemoryBuffer=Prop(U32, 20),
        MaxMemoryBlocksPerNumaNode=Prop(U64)), doc=_DOC + "msvm-memorysettingdata"),
    CimClass("Msvm_ProcessorSettingData", "CIM_ResourceAllocationSettingData", _props(
        RASD, LimitProcessorFeatures=Prop(B, False), ExposeVirtualizationExtensions=Prop(B, False),
        HwThreadsPerCore=Prop(U64, 0)), doc=_DOC + "msvm-processorsettingdata"),
    CimClass("Msvm_SyntheticEthernetPortSettingData", "CIM_ResourceAllocationSettingData",
             _props(RASD, StaticMacAddress=Prop(B, False), ClusterMonitored=Prop(B, True)),
             doc=_DOC + "msvm-syntheticethernetportsettingdata"),
    CimClass("Msvm_EthernetPortAllocationSettingData", "CIM_ResourceAllocationSettingData",
             _props(RASD, EnabledState=Prop(U16, 2), RequiredFeatures=Prop(SA, []),
                    LastKnownSwitchName=Prop(S),
                    TestReplicaPoolID=Prop(S), TestReplicaSwitchName=Prop(S)),
             doc=_DOC + "msvm-ethernetportallocationsettingdata"),
    CimClass("Msvm_VirtualEthernetSwitch", None, _props(
        MANAGED, SYSTEM_KEYS, EnabledState=Prop(U16, 2), HealthState=Prop(U16, 5),
        MaxVMQOffloads=Prop(U32, 0), MaxChimneyOffloads=Prop(U32, 0)),
        doc=_DOC + "msvm-virtualethernetswitch"),
    CimClass("Msvm_VirtualEthernetSwitchSettingData", None, _props(
        SETTING, VirtualSystemIdentifier=Prop(S), IOVPreferred=Prop(B, False),
        BandwidthReservationMode=Prop(U32, 0), Notes=Prop(SA, []),
        VirtualSystemType=Prop(S, "DMTF:Virtual Ethernet Switch")),
        doc=_DOC + "msvm-virtualethernetswitchsettingdata"),
    CimClass("Msvm_EthernetSwitchPort", None, _props(
        MANAGED, SERVICE_KEYS, EnabledState=Prop(U16, 2), PermanentAddress=Prop(S)),
        doc=_DOC + "msvm-ethernetswitchport"),
    _feature("Msvm_EthernetSwitchPortVlanSettingData", OperationMode=Prop(U32, 0),
             AccessVlanId=Prop(U16, 0), NativeVlanId=Prop(U16, 0),
             TrunkVlanIdArray=Prop(U16A, []), PruneVlanIdArray=Prop(U16A, []),
             PvlanMode=Prop(U32, 0), PrimaryVlanId=Prop(U16, 0), SecondaryVlanId=Prop(U16, 0),
             SecondaryVlanIdArray=Prop(U16A, [])),
    _feature("Msvm_EthernetSwitchPortSecuritySettingData", AllowMacSpoofing=Prop(B, False),
             EnableDhcpGuard=Prop(B, False), EnableRouterGuard=Prop(B, False),
             MonitorMode=Prop(U8, 0), AllowIeeePriorityTag=Prop(B, False),
             VirtualSubnetId=Prop(U32, 0), AllowTeaming=Prop(B, False),
             DynamicIPAddressLimit=Prop(U32, 0), StormLimit=Prop(U32, 0),
             EnableFixSpeed10G=Prop(B, False)),
    _feature("Msvm_EthernetSwitchPortExtendedAclSettingData", Name=Prop(S, ""),
             Direction=Prop(U8, 0),
             Action=Prop(U8, 0), LocalIPAddress=Prop(S, "ANY"), RemoteIPAddress=Prop(S, "ANY"),
             LocalPort=Prop(S, "ANY"), RemotePort=Prop(S, "ANY"), Protocol=Prop(S, "ANY"),
             Weight=Prop(U16, 0), Stateful=Prop(B, False), IdleSessionTimeout=Prop(U16, 255),
             IsolationID=Prop(U32, 0)),
    _feature("Msvm_EthernetSwitchPortOffloadSettingData", VMQOffloadWeight=Prop(U32, 100),
             IOVOffloadWeight=Prop(U32, 0), IOVQueuePairsRequested=Prop(U32, 1),
             IOVInterruptModeration=Prop(U32, 0), IPSecOffloadLimit=Prop(U32, 512),
             VrssEnabled=Prop(B, True), VmmqEnabled=Prop(B, False),
             VmmqQueuePairs=Prop(U32, 16)),
    _feature("Msvm_EthernetSwitchPortBandwidthSettingData", Reservation=Prop(U64, 0),
             Weight=Prop(U64, 0), Limit=Prop(U64, 0), BurstLimit=Prop(U64, 0),
             BurstSize=Prop(U64, 0)),
    _feature("Msvm_EthernetSwitchPortProfileSettingData", ProfileName=Prop(S, ""),
             ProfileId=Prop(S, ""), ProfileData=Prop(U32, 0), VendorName=Prop(S, ""),
             VendorId=Prop(S, "{00000000-0000-0000-0000-000000000000}"),
             NetCfgInstanceId=Prop(S, ""), CdnLabelString=Prop(S, ""), CdnLabelId=Prop(U32, 0),
             PciSegmentNumber=Prop(U32, 0), PciBusNumber=Prop(U32, 0),
             PciDeviceNumber=Prop(U32, 0), PciFunctionNumber=Prop(U32, 0)),
    CimClass("Msvm_ConcreteJob", None, _props(
        SETTING, JobState=Prop(U16, 4), JobType=Prop(U16, 0), PercentComplete=Prop(U16, 0),
        ErrorCode=Prop(U16, 0), ErrorDescription=Prop(S), ErrorSummaryDescription=Prop(S),
        JobStatus=Prop(S), Name=Prop(S)), not_emulated=("GetError", "GetErrorEx", "KillJob",
                                                        "RequestStateChange"),
        doc=_DOC + "msvm-concretejob"),
    CimClass("Msvm_SummaryInformation", None, _props(
        MANAGED, InstanceID=Prop(S), Name=Prop(S, key=True), EnabledState=Prop(U16),
        NumberOfProcessors=Prop(U16), ProcessorLoad=Prop(U16), MemoryUsage=Prop(U64),
        Uptime=Prop(U64), HealthState=Prop(U16), MemoryAvailable=Prop(U32),
        VirtualSystemSubType=Prop(S), Notes=Prop(S)),
        doc=_DOC + "msvm-summaryinformation"),
    CimClass("Msvm_ExternalEthernetPort", None, _props(
        MANAGED, DEVICE_KEYS, Name=Prop(S), PermanentAddress=Prop(S), IsBound=Prop(B, False),
        EnabledState=Prop(U16, 2), Speed=Prop(U64, 0), MaxSpeed=Prop(U64, 0)),
        doc=_DOC + "msvm-externalethernetport"),
    CimClass("Msvm_ExternalEthernetPortCapabilities", None, _props(
        SETTING, IOVSupport=Prop(B, False), IOVSupportReasons=Prop(SA, [])),
        doc=_DOC + "msvm-externalethernetportcapabilities"),
    CimClass("Msvm_ElementCapabilities", None, {"ManagedElement": Prop("reference", key=True),
                                               "Capabilities": Prop("reference", key=True)},
             association=True, doc=_DOC + "msvm-elementcapabilities"),
    CimClass("Win32_OperatingSystem", None, _props(
        MANAGED, Name=Prop(S, key=True), Version=Prop(S), BuildNumber=Prop(S), CSName=Prop(S),
        OSArchitecture=Prop(S, "64-bit"), TotalVisibleMemorySize=Prop(U64),
        FreePhysicalMemory=Prop(U64), LastBootUpTime=Prop("datetime")),
        namespace="root/cimv2",
        doc="https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-operatingsystem"),
    CimClass("Win32_LogicalDisk", None, _props(
        MANAGED, DeviceID=Prop(S, key=True), DriveType=Prop(U32), FileSystem=Prop(S),
        VolumeName=Prop(S), Size=Prop(U64), FreeSpace=Prop(U64)), namespace="root/cimv2",
        doc="https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-logicaldisk"),
    CimClass("Win32_ComputerSystem", None, _props(
        MANAGED, Name=Prop(S, key=True), Domain=Prop(S), Manufacturer=Prop(S),
        Model=Prop(S), NumberOfLogicalProcessors=Prop(U32), NumberOfProcessors=Prop(U32),
        TotalPhysicalMemory=Prop(U64)), namespace="root/cimv2",
        doc="https://learn.microsoft.com/en-us/windows/win32/cimwin32prov/win32-computersystem"),
    CimClass("Msvm_ShutdownComponent", None, _props(
        MANAGED, DEVICE_KEYS, Name=Prop(S, "Shutdown"), EnabledState=Prop(U16, 2),
        RequestedState=Prop(U16, 12), EnabledDefault=Prop(U16, 7), HealthState=Prop(U16, 5),
        OperationalStatus=Prop(U16A, [2]), StatusDescriptions=Prop(SA, ["OK"]),
        Availability=Prop(U16, 6)), methods=("InitiateShutdown",),
        not_emulated=("InitiateReboot", "EnableDevice", "OnlineDevice", "QuiesceDevice",
                      "RequestStateChange", "Reset", "RestoreProperties", "SaveProperties",
                      "SetPowerState"),
        doc=_DOC + "msvm-shutdowncomponent"),
    CimClass("Msvm_SettingsDefineState", None, {"ManagedElement": Prop("reference", key=True),
                                               "SettingData": Prop("reference", key=True)},
             association=True, doc=_DOC + "msvm-settingsdefinestate"),
    CimClass("Msvm_VirtualSystemSettingDataComponent", None,
             {"GroupComponent": Prop("reference", key=True),
              "PartComponent": Prop("reference", key=True)},
             association=True, doc=_DOC + "msvm-virtualsystemsettingdatacomponent"),
    CimClass("Msvm_ElementSettingData", None, {"ManagedElement": Prop("reference", key=True),
                                              "SettingData": Prop("reference", key=True)},
             association=True, doc=_DOC + "msvm-elementsettingdata"),
    CimClass("Msvm_EthernetPortSettingDataComponent", None,
             {"GroupComponent": Prop("reference", key=True),
              "PartComponent": Prop("reference", key=True)},
             association=True, doc=_DOC + "msvm-ethernetportsettingdatacomponent"),
    CimClass("Msvm_SystemDevice", None, {"GroupComponent": Prop("reference", key=True),
                                        "PartComponent": Prop("reference", key=True)},
             association=True, doc=_DOC + "msvm-systemdevice"),
    *STORAGE_CLASSES,
)


class Schema:
    """Lookup of the declared classes, case-insensitive, with inheritance."""

    def __init__(self, classes: Iterable[CimClass] = CLASSES) -> None:
        self._classes = {cls.name.lower(): cls for cls in classes}

    def get(self, name: str) -> CimClass:
        """The class named *name*.

        :raises NotFound: when the emulator does not declare it (on a real
            host: WBEM_E_INVALID_CLASS).
        """
        try:
            return self._classes[name.lower()]
        except KeyError:
            raise NotFound(what=f"class {name!r} in root/virtualization/v2") from None

    def is_a(self, name: str, ancestor: str) -> bool:
        """Whether class *name* is *ancestor* or derives from it."""
        current: str | None = name
        while current is not None:
            if current.lower() == ancestor.lower():
                return True
            current = self.get(current).superclass
        return False

    def subclasses(self, name: str) -> list[CimClass]:
        """*name* and every declared class deriving from it."""
        return [cls for cls in self._classes.values() if self.is_a(cls.name, name)]

    def __iter__(self) -> Any:
        return iter(sorted(self._classes.values(), key=lambda c: c.name))


SCHEMA = Schema()


@dataclass(frozen=True)
class MethodParams:
    """A method's parameters: name -> kind, for ``in`` and ``out``.

    Kinds: ``E`` (a string holding an embedded instance), ``R`` (a
    reference), ``I`` (an instance-typed value), or a CIM type; ``[]`` marks
    an array.
    """

    inputs: Mapping[str, str]
    outputs: Mapping[str, str]


_JOB = {"Job": "R"}
_DEFINE = MethodParams({"SystemSettings": "E", "ResourceSettings": "E[]",
                        "ReferenceConfiguration": "R"}, {"ResultingSystem": "R", **_JOB})
_DESTROY = MethodParams({"AffectedSystem": "R"}, _JOB)
#: Parameters of the declared methods, from each method's Learn page
#: (``https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/<method>-<class>``).
METHOD_PARAMS: dict[tuple[str, str], MethodParams] = {
    ("msvm_virtualsystemmanagementservice", "definesystem"): _DEFINE,
    ("msvm_virtualsystemmanagementservice", "destroysystem"): _DESTROY,
    ("msvm_virtualsystemmanagementservice", "modifysystemsettings"): MethodParams(
        {"SystemSettings": "E"}, _JOB),
    ("msvm_virtualsystemmanagementservice", "addresourcesettings"): MethodParams(
        {"AffectedConfiguration": "R", "ResourceSettings": "E[]"},
        {"ResultingResourceSettings": "R[]", **_JOB}),
    ("msvm_virtualsystemmanagementservice", "modifyresourcesettings"): MethodParams(
        {"ResourceSettings": "E[]"}, {"ResultingResourceSettings": "R[]", **_JOB}),
    ("msvm_virtualsystemmanagementservice", "removeresourcesettings"): MethodParams(
        {"ResourceSettings": "R[]"}, _JOB),
    ("msvm_virtualsystemmanagementservice", "addfeaturesettings"): MethodParams(
        {"AffectedConfiguration": "R", "FeatureSettings": "E[]"},
        {"ResultingFeatureSettings": "R[]", **_JOB}),
    ("msvm_virtualsystemmanagementservice", "modifyfeaturesettings"): MethodParams(
        {"FeatureSettings": "E[]"}, {"ResultingFeatureSettings": "R[]", **_JOB}),
    ("msvm_virtualsystemmanagementservice", "removefeaturesettings"): MethodParams(
        {"FeatureSettings": "R[]"}, _JOB),
    ("msvm_virtualsystemmanagementservice", "getsummaryinformation"): MethodParams(
        {"SettingData": "R[]", "RequestedInformation": "uint32[]"},
        {"SummaryInformation": "I[]"}),
    ("msvm_virtualethernetswitchmanagementservice", "definesystem"): _DEFINE,
    ("msvm_virtualethernetswitchmanagementservice", "destroysystem"): _DESTROY,
    ("msvm_shutdowncomponent", "initiateshutdown"): MethodParams(
        {"Force": "boolean", "Reason": "string"}, _JOB),
    ("msvm_computersystem", "requeststatechange"): MethodParams(
        {"RequestedState": "uint16", "TimeoutPeriod": "datetime"}, _JOB),
    ("msvm_imagemanagementservice", "createvirtualharddisk"): MethodParams(
        {"VirtualDiskSettingData": "E"}, _JOB),
    ("msvm_imagemanagementservice", "getvirtualharddisksettingdata"): MethodParams(
        {"Path": "string"}, {"SettingData": "E", **_JOB}),
    ("msvm_imagemanagementservice", "resizevirtualharddisk"): MethodParams(
        {"Path": "string", "MaxInternalSize": "uint64"}, _JOB),
}


def method_params(class_name: str, method: str) -> MethodParams | None:
    """The declared parameters of *method* of *class_name*, if declared."""
    return METHOD_PARAMS.get((class_name.lower(), method.lower()))


class MofCatalog:
    """The declarations as the WS-Management codec's catalog."""

    def __init__(self, schema: Schema | None = None) -> None:
        self._schema = schema or SCHEMA

    def _class(self, class_name: str) -> CimClass | None:
        try:
            return self._schema.get(class_name)
        except NotFound:
            return None

    def property_types(self, class_name: str) -> Mapping[str, str]:
        """Property name -> CIM type; empty for an unknown class."""
        cls = self._class(class_name)
        return cls.types() if cls else {}

    def key_names(self, class_name: str) -> tuple[str, ...]:
        """The key properties; empty for an unknown class."""
        cls = self._class(class_name)
        return cls.keys if cls else ()

    def defaults(self, class_name: str) -> dict[str, Any]:
        """A new property dict with the class's defaults."""
        cls = self._class(class_name)
        return cls.defaults() if cls else {}

    def parameter_kinds(self, class_name: str, method: str,
                        direction: str) -> Mapping[str, str]:
        """Parameter name -> kind for ``in`` or ``out``; empty if undeclared."""
        params = method_params(class_name, method)
        if params is None:
            return {}
        return params.inputs if direction == "in" else params.outputs
