package models

// Base carries the fields every resource has (FEATURES.md item 1).
type Base struct {
	UUID        string `db:"uuid" json:"uuid"`
	Name        string `db:"name" json:"name"`
	Description Ref    `db:"description" json:"description,omitempty"`
	CreateDate  Time   `db:"create_date" json:"createDate"`
	LastOpDate  Time   `db:"last_op_date" json:"lastOpDate"`
}

// Account is a tenant or the admin. The password is stored as a bcrypt hash
// of the SHA-512 hex digest that clients send.
type Account struct {
	UUID         string `db:"uuid" json:"uuid"`
	Name         string `db:"name" json:"name"`
	Type         string `db:"type" json:"type"` // SystemAdmin, Normal
	PasswordHash string `db:"password_hash" json:"-"`
	Description  Ref    `db:"description" json:"description,omitempty"`
	CreateDate   Time   `db:"create_date" json:"createDate"`
	LastOpDate   Time   `db:"last_op_date" json:"lastOpDate"`
}

// Session is a login session (SessionInventory).
type Session struct {
	UUID        string `db:"uuid" json:"uuid"`
	AccountUUID string `db:"account_uuid" json:"accountUuid"`
	UserUUID    string `db:"user_uuid" json:"userUuid"`
	ExpiredDate Time   `db:"expired_date" json:"expiredDate"`
	CreateDate  Time   `db:"create_date" json:"createDate"`
}

// Zone (ZoneInventory).
type Zone struct {
	Base
	State     string `db:"state" json:"state"`
	Type      string `db:"type" json:"type"`
	IsDefault bool   `db:"is_default" json:"isDefault"`
}

// Cluster (ClusterInventory).
type Cluster struct {
	Base
	ZoneUUID       string `db:"zone_uuid" json:"zoneUuid"`
	State          string `db:"state" json:"state"`
	HypervisorType string `db:"hypervisor_type" json:"hypervisorType"`
	Type           string `db:"type" json:"type"`
	Architecture   Ref    `db:"architecture" json:"architecture,omitempty"`
}

// Host (HostInventory, with SimulatorHostInventory's fields). CPU and memory
// capacities change only through conditional updates in the store.
type Host struct {
	Base
	ZoneUUID                string `db:"zone_uuid" json:"zoneUuid"`
	ClusterUUID             string `db:"cluster_uuid" json:"clusterUuid"`
	ManagementIP            string `db:"management_ip" json:"managementIp"`
	HypervisorType          string `db:"hypervisor_type" json:"hypervisorType"`
	State                   string `db:"state" json:"state"`
	Status                  string `db:"status" json:"status"`
	TotalCPUCapacity        int64  `db:"total_cpu_capacity" json:"totalCpuCapacity"`
	AvailableCPUCapacity    int64  `db:"available_cpu_capacity" json:"availableCpuCapacity"`
	CPUSockets              int    `db:"cpu_sockets" json:"cpuSockets"`
	TotalMemoryCapacity     int64  `db:"total_memory_capacity" json:"totalMemoryCapacity"`
	AvailableMemoryCapacity int64  `db:"available_memory_capacity" json:"availableMemoryCapacity"`
	CPUNum                  int    `db:"cpu_num" json:"cpuNum"`
	Architecture            Ref    `db:"architecture" json:"architecture,omitempty"`
	MemoryCapacity          int64  `db:"memory_capacity" json:"memoryCapacity,omitempty"`
	CPUCapacity             int64  `db:"cpu_capacity" json:"cpuCapacity,omitempty"`
	Driver                  string `db:"driver" json:"-"`
	AgentVersion            Ref    `db:"agent_version" json:"-"`
	// KVM hosts (KVMHostInventory): how the control plane reaches the host
	// over SSH (the password is kept apart), what the host runs, and the
	// libvirt domain type it can run: kvm, or qemu (TCG) when KVM can't.
	Username       Ref `db:"username" json:"username,omitempty"`
	SSHPort        int `db:"ssh_port" json:"sshPort,omitempty"`
	OSDistribution Ref `db:"os_distribution" json:"osDistribution,omitempty"`
	OSRelease      Ref `db:"os_release" json:"osRelease,omitempty"`
	OSVersion      Ref `db:"os_version" json:"osVersion,omitempty"`
	DomainType     Ref `db:"domain_type" json:"domainType,omitempty"`
	PingFailures   int `db:"ping_failures" json:"-"`
}

// PrimaryStorage (PrimaryStorageInventory).
type PrimaryStorage struct {
	Base
	ZoneUUID                  string   `db:"zone_uuid" json:"zoneUuid"`
	URL                       string   `db:"url" json:"url"`
	Type                      string   `db:"type" json:"type"`
	State                     string   `db:"state" json:"state"`
	Status                    string   `db:"status" json:"status"`
	TotalCapacity             int64    `db:"total_capacity" json:"totalCapacity"`
	AvailableCapacity         int64    `db:"available_capacity" json:"availableCapacity"`
	TotalPhysicalCapacity     int64    `db:"total_physical_capacity" json:"totalPhysicalCapacity"`
	AvailablePhysicalCapacity int64    `db:"available_physical_capacity" json:"availablePhysicalCapacity"`
	SystemUsedCapacity        int64    `db:"system_used_capacity" json:"systemUsedCapacity"`
	MountPath                 Ref      `db:"mount_path" json:"mountPath,omitempty"`
	AttachedClusterUUIDs      []string `db:"-" json:"attachedClusterUuids"`
}

// BackupStorage (BackupStorageInventory).
type BackupStorage struct {
	Base
	URL               string   `db:"url" json:"url"`
	Type              string   `db:"type" json:"type"`
	State             string   `db:"state" json:"state"`
	Status            string   `db:"status" json:"status"`
	TotalCapacity     int64    `db:"total_capacity" json:"totalCapacity"`
	AvailableCapacity int64    `db:"available_capacity" json:"availableCapacity"`
	AttachedZoneUUIDs []string `db:"-" json:"attachedZoneUuids"`
	// ImageStore and Sftp backup storages live on an SSH host
	// (ImageStoreBackupStorageInventory); AgentURL is where its agent
	// serves images.
	Hostname Ref `db:"hostname" json:"hostname,omitempty"`
	Username Ref `db:"username" json:"username,omitempty"`
	SSHPort  int `db:"ssh_port" json:"sshPort,omitempty"`
	AgentURL Ref `db:"agent_url" json:"-"`
}

// ImageBackupStorageRef says where an image's bits are.
type ImageBackupStorageRef struct {
	UUID              string `db:"uuid" json:"-"`
	ImageUUID         string `db:"image_uuid" json:"imageUuid"`
	BackupStorageUUID string `db:"backup_storage_uuid" json:"backupStorageUuid"`
	InstallPath       string `db:"install_path" json:"installPath"`
	Status            string `db:"status" json:"status"`
	CreateDate        Time   `db:"create_date" json:"createDate"`
	LastOpDate        Time   `db:"last_op_date" json:"lastOpDate"`
}

// Image (ImageInventory).
type Image struct {
	Base
	State             string                  `db:"state" json:"state"`
	Status            string                  `db:"status" json:"status"`
	Size              int64                   `db:"size" json:"size"`
	ActualSize        int64                   `db:"actual_size" json:"actualSize"`
	MD5Sum            Ref                     `db:"md5sum" json:"md5Sum,omitempty"`
	URL               string                  `db:"url" json:"url"`
	MediaType         string                  `db:"media_type" json:"mediaType"`
	GuestOSType       Ref                     `db:"guest_os_type" json:"guestOsType,omitempty"`
	Type              string                  `db:"type" json:"type"`
	Platform          string                  `db:"platform" json:"platform"`
	Architecture      string                  `db:"architecture" json:"architecture"`
	Format            string                  `db:"format" json:"format"`
	System            bool                    `db:"is_system" json:"system"`
	Virtio            bool                    `db:"virtio" json:"virtio"`
	BackupStorageRefs []ImageBackupStorageRef `db:"-" json:"backupStorageRefs"`
}

// InstanceOffering (InstanceOfferingInventory).
type InstanceOffering struct {
	Base
	CPUNum             int    `db:"cpu_num" json:"cpuNum"`
	CPUSpeed           int    `db:"cpu_speed" json:"cpuSpeed"`
	MemorySize         int64  `db:"memory_size" json:"memorySize"`
	ReservedMemorySize int64  `db:"reserved_memory_size" json:"reservedMemorySize"`
	Type               string `db:"type" json:"type"`
	AllocatorStrategy  Ref    `db:"allocator_strategy" json:"allocatorStrategy,omitempty"`
	SortKey            int    `db:"sort_key" json:"sortKey"`
	State              string `db:"state" json:"state"`
}

// DiskOffering (DiskOfferingInventory).
type DiskOffering struct {
	Base
	DiskSize          int64  `db:"disk_size" json:"diskSize"`
	SortKey           int    `db:"sort_key" json:"sortKey"`
	State             string `db:"state" json:"state"`
	Type              string `db:"type" json:"type"`
	AllocatorStrategy Ref    `db:"allocator_strategy" json:"allocatorStrategy,omitempty"`
}

// L2Network (L2NetworkInventory).
type L2Network struct {
	Base
	ZoneUUID             string   `db:"zone_uuid" json:"zoneUuid"`
	PhysicalInterface    string   `db:"physical_interface" json:"physicalInterface"`
	Type                 string   `db:"type" json:"type"`
	VSwitchType          string   `db:"vswitch_type" json:"vSwitchType"`
	VirtualNetworkID     int      `db:"virtual_network_id" json:"virtualNetworkId"`
	Isolated             bool     `db:"isolated" json:"isolated"`
	PoolUUID             Ref      `db:"pool_uuid" json:"poolUuid,omitempty"`
	AttachedClusterUUIDs []string `db:"-" json:"attachedClusterUuids"`
	// Vlan and Vni repeat VirtualNetworkID under the name that
	// L2VlanNetworkInventory and L2VxlanNetworkInventory give it.
	Vlan int `db:"-" json:"vlan,omitempty"`
	Vni  int `db:"-" json:"vni,omitempty"`
	// AttachedVniRanges and AttachedCIDRs (cluster UUID → VTEP CIDR) are a
	// VXLAN pool's (L2VxlanNetworkPoolInventory).
	AttachedVniRanges []VniRange        `db:"-" json:"attachedVniRanges,omitempty"`
	AttachedCIDRs     map[string]string `db:"-" json:"attachedCidrs,omitempty"`
}

// L3Network (L3NetworkInventory).
type L3Network struct {
	Base
	Type            string    `db:"type" json:"type"`
	ZoneUUID        string    `db:"zone_uuid" json:"zoneUuid"`
	L2NetworkUUID   string    `db:"l2_network_uuid" json:"l2NetworkUuid"`
	State           string    `db:"state" json:"state"`
	DNSDomain       Ref       `db:"dns_domain" json:"dnsDomain,omitempty"`
	System          bool      `db:"is_system" json:"system"`
	Category        string    `db:"category" json:"category"`
	IPVersion       int       `db:"ip_version" json:"ipVersion"`
	EnableIPAM      bool      `db:"enable_ipam" json:"enableIPAM"`
	Isolated        bool      `db:"isolated" json:"isolated"`
	DNS             []string  `db:"-" json:"dns"`
	IPRanges        []IPRange `db:"-" json:"ipRanges"`
	NetworkServices []any     `db:"-" json:"networkServices"`
	HostRoute       []any     `db:"-" json:"hostRoute"`
}

// IPRange (IpRangeInventory).
type IPRange struct {
	Base
	L3NetworkUUID string `db:"l3_network_uuid" json:"l3NetworkUuid"`
	StartIP       string `db:"start_ip" json:"startIp"`
	EndIP         string `db:"end_ip" json:"endIp"`
	Netmask       string `db:"netmask" json:"netmask"`
	Gateway       string `db:"gateway" json:"gateway"`
	NetworkCIDR   string `db:"network_cidr" json:"networkCidr"`
	IPVersion     int    `db:"ip_version" json:"ipVersion"`
	PrefixLen     int    `db:"prefix_len" json:"prefixLen"`
	IPRangeType   string `db:"ip_range_type" json:"ipRangeType"`
}

// UsedIP is an allocated address. Its UUID is NameUUID(l3, ip), so two
// concurrent allocations of one address collide on the primary key.
type UsedIP struct {
	UUID          string `db:"uuid" json:"uuid"`
	IPRangeUUID   string `db:"ip_range_uuid" json:"ipRangeUuid"`
	L3NetworkUUID string `db:"l3_network_uuid" json:"l3NetworkUuid"`
	IPVersion     int    `db:"ip_version" json:"ipVersion"`
	IP            string `db:"ip" json:"ip"`
	IPInLong      int64  `db:"ip_in_long" json:"ipInLong"`
	Netmask       string `db:"netmask" json:"netmask"`
	Gateway       string `db:"gateway" json:"gateway"`
	UsedFor       string `db:"used_for" json:"usedFor"`
	VMNicUUID     Ref    `db:"vm_nic_uuid" json:"vmNicUuid,omitempty"`
	CreateDate    Time   `db:"create_date" json:"createDate"`
	LastOpDate    Time   `db:"last_op_date" json:"lastOpDate"`
}

// VMNic (VmNicInventory).
type VMNic struct {
	UUID           string   `db:"uuid" json:"uuid"`
	VMInstanceUUID string   `db:"vm_instance_uuid" json:"vmInstanceUuid"`
	L3NetworkUUID  string   `db:"l3_network_uuid" json:"l3NetworkUuid"`
	IP             Ref      `db:"ip" json:"ip,omitempty"`
	MAC            string   `db:"mac" json:"mac"`
	HypervisorType string   `db:"hypervisor_type" json:"hypervisorType"`
	Netmask        Ref      `db:"netmask" json:"netmask,omitempty"`
	Gateway        Ref      `db:"gateway" json:"gateway,omitempty"`
	IPVersion      int      `db:"ip_version" json:"ipVersion"`
	DriverType     string   `db:"driver_type" json:"driverType"`
	InternalName   string   `db:"internal_name" json:"internalName"`
	DeviceID       int      `db:"device_id" json:"deviceId"`
	Type           string   `db:"type" json:"type"`
	State          string   `db:"state" json:"state"`
	UsedIPs        []UsedIP `db:"-" json:"usedIps"`
	CreateDate     Time     `db:"create_date" json:"createDate"`
	LastOpDate     Time     `db:"last_op_date" json:"lastOpDate"`
}

// Volume (VolumeInventory).
type Volume struct {
	Base
	PrimaryStorageUUID Ref    `db:"primary_storage_uuid" json:"primaryStorageUuid,omitempty"`
	VMInstanceUUID     Ref    `db:"vm_instance_uuid" json:"vmInstanceUuid,omitempty"`
	DiskOfferingUUID   Ref    `db:"disk_offering_uuid" json:"diskOfferingUuid,omitempty"`
	RootImageUUID      Ref    `db:"root_image_uuid" json:"rootImageUuid,omitempty"`
	InstallPath        Ref    `db:"install_path" json:"installPath,omitempty"`
	Type               string `db:"type" json:"type"`
	Format             string `db:"format" json:"format"`
	Size               int64  `db:"size" json:"size"`
	ActualSize         int64  `db:"actual_size" json:"actualSize"`
	DeviceID           int    `db:"device_id" json:"deviceId"`
	State              string `db:"state" json:"state"`
	Status             string `db:"status" json:"status"`
	IsShareable        bool   `db:"is_shareable" json:"isShareable"`
	VolumeQos          Ref    `db:"volume_qos" json:"volumeQos,omitempty"`
	HostUUID           Ref    `db:"host_uuid" json:"-"`
}

// VMInstance (VmInstanceInventory).
type VMInstance struct {
	Base
	ZoneUUID             Ref      `db:"zone_uuid" json:"zoneUuid,omitempty"`
	ClusterUUID          Ref      `db:"cluster_uuid" json:"clusterUuid,omitempty"`
	ImageUUID            Ref      `db:"image_uuid" json:"imageUuid,omitempty"`
	HostUUID             Ref      `db:"host_uuid" json:"hostUuid,omitempty"`
	LastHostUUID         Ref      `db:"last_host_uuid" json:"lastHostUuid,omitempty"`
	InstanceOfferingUUID Ref      `db:"instance_offering_uuid" json:"instanceOfferingUuid,omitempty"`
	RootVolumeUUID       Ref      `db:"root_volume_uuid" json:"rootVolumeUuid,omitempty"`
	Platform             string   `db:"platform" json:"platform"`
	Architecture         string   `db:"architecture" json:"architecture"`
	DefaultL3NetworkUUID Ref      `db:"default_l3_network_uuid" json:"defaultL3NetworkUuid,omitempty"`
	Type                 string   `db:"type" json:"type"`
	HypervisorType       string   `db:"hypervisor_type" json:"hypervisorType"`
	MemorySize           int64    `db:"memory_size" json:"memorySize"`
	ReservedMemorySize   int64    `db:"reserved_memory_size" json:"reservedMemorySize"`
	CPUNum               int      `db:"cpu_num" json:"cpuNum"`
	CPUSpeed             int64    `db:"cpu_speed" json:"cpuSpeed"`
	AllocatorStrategy    Ref      `db:"allocator_strategy" json:"allocatorStrategy,omitempty"`
	State                string   `db:"state" json:"state"`
	GuestOSType          Ref      `db:"guest_os_type" json:"guestOsType,omitempty"`
	VMNics               []VMNic  `db:"-" json:"vmNics"`
	AllVolumes           []Volume `db:"-" json:"allVolumes"`
	VMCdRoms             []any    `db:"-" json:"vmCdRoms"`
}

// Tag is a system or user tag on a resource.
type Tag struct {
	UUID         string `db:"uuid" json:"uuid"`
	ResourceUUID string `db:"resource_uuid" json:"resourceUuid"`
	ResourceType string `db:"resource_type" json:"resourceType"`
	Tag          string `db:"tag" json:"tag"`
	Type         string `db:"type" json:"type"` // System, User
	CreateDate   Time   `db:"create_date" json:"createDate"`
	LastOpDate   Time   `db:"last_op_date" json:"lastOpDate"`
}

// GlobalConfig is one runtime-changeable setting (GlobalConfigInventory).
type GlobalConfig struct {
	Category     string `db:"category" json:"category"`
	Name         string `db:"name" json:"name"`
	Value        string `db:"value" json:"value"`
	DefaultValue string `db:"default_value" json:"defaultValue"`
	Description  string `db:"description" json:"description"`
}
