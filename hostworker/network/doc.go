// Package network builds the host side of ZCloud's flat networking: Linux bridges for L2 NoVlan,
// Vlan and VXLAN networks, a dnsmasq per L3 in its own namespace for distributed DHCP, nftables
// security groups on VM NICs, and flat EIPs (with QoS) as one NAT namespace per EIP.
//
// Every operation targets one network namespace, the "host" (NewHost): the agent's own namespace
// in production, a namespace created by the test in tests. Links are managed with netlink handles
// bound to that namespace and rules with nftables connections bound to it; only per-namespace
// sysctls and the start of dnsmasq switch a locked OS thread into a namespace and back.
// Operations are idempotent ("ensure" style) and deletes succeed when there is nothing left.
//
// Names (ZStack's where it has them):
//
//	br_<phys>, br_<phys>_<vlan>, br_vx_<vni>   bridges of NoVlan, Vlan, VXLAN L2 networks
//	<phys>.<vlan>, vxlan<vni>                   their uplinks (802.1Q / VXLAN devices)
//	zd-<l3uuid8>, zdo<l3uuid8>/zdi<l3uuid8>     DHCP namespace, its veth (host/inside ends)
//	169.254.169.254/32 on lo in zd-<l3uuid8>    the L3's metadata server (metadata.go)
//	ze-<eipuuid8>, zep/zei<eipuuid8>, pub0/priv0 EIP namespace, its public/private veths
//	nft bridge+inet zcloud_sg, bridge zcloud_dhcp, bridge zcloud_eip, ip zcloud_eip (in ze-)
//
// Facts about the kernel this was built on (measured by the tests in this package):
//   - 802.1Q VLAN devices are not built in: creating <phys>.<vlan> fails with EOPNOTSUPP, which
//     EnsureBridge returns wrapped with errors.ErrUnsupported (TestVlanBridgeUnsupported).
//   - With br_netfilter on, bridged packets reach the inet forward hook with iifname/oifname
//     equal to the bridge, never the tap (TestBridgedPacketsSeeBridgeAsIfname); the bridge family
//     sees the ports but has no conntrack here. Security groups therefore tag packets with the
//     NIC in the bridge family (packet mark) and filter statefully in the inet family.
package network
