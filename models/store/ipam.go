package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"

	"github.com/zcloud/zcloud/models"
)

// IPv4ToLong returns an IPv4 address as an integer (ZStack's ipInLong).
func IPv4ToLong(a netip.Addr) int64 {
	b := a.As4()
	return int64(binary.BigEndian.Uint32(b[:]))
}

// LongToIPv4 is the inverse of IPv4ToLong.
func LongToIPv4(n int64) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(n))
	return netip.AddrFrom4(b)
}

// IPRanges returns the ranges of an L3 network.
func (s *Store) IPRanges(ctx context.Context, l3UUID string) ([]models.IPRange, error) {
	var out []models.IPRange
	err := s.db.SelectContext(ctx, &out, `SELECT * FROM ip_ranges WHERE l3_network_uuid = ? ORDER BY create_date, uuid`, l3UUID)
	return out, err
}

// AllocateIP reserves an address of an L3 network for a NIC. The used-IP
// row's UUID derives from (L3, IP): two allocations racing for one address
// collide on the primary key and the loser tries another, so no lock is
// needed on any database. A retried call for the same NIC returns the
// address it already holds. If ip is not empty, exactly that address is
// reserved (static IP).
func (s *Store) AllocateIP(ctx context.Context, l3UUID, nicUUID, ip string) (models.UsedIP, error) {
	var held models.UsedIP
	if err := s.db.GetContext(ctx, &held, `SELECT * FROM used_ips WHERE vm_nic_uuid = ? AND l3_network_uuid = ?`, nicUUID, l3UUID); err == nil {
		return held, nil
	}
	ranges, err := s.IPRanges(ctx, l3UUID)
	if err != nil {
		return models.UsedIP{}, fmt.Errorf("allocate ip: %w", err)
	}
	if len(ranges) == 0 {
		return models.UsedIP{}, models.Unavailable("l3 network[uuid:%s] has no ip range", l3UUID).WithCode(models.CodeL3NoIP)
	}
	if ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is4() {
			return models.UsedIP{}, models.Invalid("invalid static ip [%s]", ip)
		}
		for _, r := range ranges {
			if inRange(r, a) {
				u, err := s.tryIP(ctx, r, a, nicUUID)
				if err != nil {
					return models.UsedIP{}, err
				}
				if u == nil {
					return models.UsedIP{}, models.Conflict("ip [%s] of l3 network[uuid:%s] is already in use", ip, l3UUID).WithCode(models.CodeL3NoIP)
				}
				return *u, nil
			}
		}
		return models.UsedIP{}, models.Invalid("ip [%s] is not in any ip range of l3 network[uuid:%s]", ip, l3UUID)
	}
	for _, r := range ranges {
		start, end := netip.MustParseAddr(r.StartIP), netip.MustParseAddr(r.EndIP)
		lo, hi := IPv4ToLong(start), IPv4ToLong(end)
		for attempt := 0; attempt < 4; attempt++ {
			var used []int64
			if err := s.db.SelectContext(ctx, &used, `SELECT ip_in_long FROM used_ips WHERE ip_range_uuid = ?`, r.UUID); err != nil {
				return models.UsedIP{}, fmt.Errorf("allocate ip: %w", err)
			}
			taken := make(map[int64]bool, len(used))
			for _, u := range used {
				taken[u] = true
			}
			size := hi - lo + 1
			if int64(len(taken)) >= size {
				break
			}
			// Start from a random offset (ZStack's RandomIpAllocatorStrategy)
			// so that concurrent allocations rarely try the same address.
			off := rand.Int64N(size)
			for i := int64(0); i < size; i++ {
				n := lo + (off+i)%size
				if taken[n] || n == gatewayLong(r) {
					continue
				}
				u, err := s.tryIP(ctx, r, LongToIPv4(n), nicUUID)
				if err != nil {
					return models.UsedIP{}, err
				}
				if u != nil {
					return *u, nil
				}
				taken[n] = true
			}
		}
	}
	return models.UsedIP{}, models.Unavailable("no free ip in l3 network[uuid:%s]", l3UUID).WithCode(models.CodeL3NoIP)
}

func gatewayLong(r models.IPRange) int64 {
	g, err := netip.ParseAddr(r.Gateway)
	if err != nil || !g.Is4() {
		return -1
	}
	return IPv4ToLong(g)
}

func inRange(r models.IPRange, a netip.Addr) bool {
	n := IPv4ToLong(a)
	return n >= IPv4ToLong(netip.MustParseAddr(r.StartIP)) && n <= IPv4ToLong(netip.MustParseAddr(r.EndIP))
}

// tryIP inserts the used-IP row; nil, nil means someone else holds it.
func (s *Store) tryIP(ctx context.Context, r models.IPRange, a netip.Addr, nicUUID string) (*models.UsedIP, error) {
	now := models.Now()
	u := models.UsedIP{UUID: models.NameUUID(r.L3NetworkUUID, a.String()), IPRangeUUID: r.UUID, L3NetworkUUID: r.L3NetworkUUID,
		IPVersion: 4, IP: a.String(), IPInLong: IPv4ToLong(a), Netmask: r.Netmask, Gateway: r.Gateway, UsedFor: "Vip",
		VMNicUUID: models.Ref(nicUUID), CreateDate: now, LastOpDate: now}
	if nicUUID != "" {
		u.UsedFor = "VmNic"
	}
	err := s.insert(ctx, s.db, "used_ips", &u)
	if err == nil {
		return &u, nil
	}
	if models.AsError(err).Kind == models.KindConflict {
		return nil, nil
	}
	return nil, err
}

// ReleaseIPsOfNIC frees every address a NIC holds; releasing twice is fine.
func (s *Store) ReleaseIPsOfNIC(ctx context.Context, nicUUID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM used_ips WHERE vm_nic_uuid = ?`, nicUUID)
	if err != nil {
		return fmt.Errorf("release ips of nic %s: %w", nicUUID, err)
	}
	return nil
}

// FreeIPs lists up to limit free addresses of an L3 network (or one range),
// starting after start when given (GetFreeIp).
func (s *Store) FreeIPs(ctx context.Context, l3UUID, rangeUUID, start string, limit int) ([]map[string]any, error) {
	ranges, err := s.IPRanges(ctx, l3UUID)
	if err != nil {
		return nil, err
	}
	var from int64 = -1
	if a, err := netip.ParseAddr(start); err == nil && a.Is4() {
		from = IPv4ToLong(a)
	}
	out := []map[string]any{}
	for _, r := range ranges {
		if rangeUUID != "" && r.UUID != rangeUUID {
			continue
		}
		var used []int64
		if err := s.db.SelectContext(ctx, &used, `SELECT ip_in_long FROM used_ips WHERE ip_range_uuid = ?`, r.UUID); err != nil {
			return nil, err
		}
		taken := map[int64]bool{gatewayLong(r): true}
		for _, u := range used {
			taken[u] = true
		}
		for n := IPv4ToLong(netip.MustParseAddr(r.StartIP)); n <= IPv4ToLong(netip.MustParseAddr(r.EndIP)) && len(out) < limit; n++ {
			if n <= from || taken[n] {
				continue
			}
			out = append(out, map[string]any{"ipRangeUuid": r.UUID, "ip": LongToIPv4(n).String(), "netmask": r.Netmask, "gateway": r.Gateway})
		}
	}
	return out, nil
}

// AddL3DNS adds a DNS server to an L3 network; adding it twice is a no-op.
func (s *Store) AddL3DNS(ctx context.Context, l3UUID, dns string) error {
	if ok, err := s.Exists(ctx, ResL3Network, l3UUID); err != nil || !ok {
		if err == nil {
			err = models.NotFound("cannot find L3Network[uuid:%s]", l3UUID)
		}
		return err
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO l3_network_dns (uuid, l3_network_uuid, dns, create_date) VALUES (?, ?, ?, ?)`,
		models.NameUUID(l3UUID, dns), l3UUID, dns, models.Now())
	if err != nil && !isDuplicateKey(err) {
		return fmt.Errorf("add dns to l3 %s: %w", l3UUID, err)
	}
	return nil
}
