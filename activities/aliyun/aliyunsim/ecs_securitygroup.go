package aliyunsim

import (
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	dirIngress = "ingress"
	dirEgress  = "egress"
)

// SecurityGroup is an ECS security group with its rules.
type SecurityGroup struct {
	SecurityGroupID string    `json:"securityGroupId"`
	RegionID        string    `json:"regionId"`
	VpcID           string    `json:"vpcId"`
	Name            string    `json:"name"`
	Description     string    `json:"description"`
	Type            string    `json:"type"`
	CreationTime    time.Time `json:"creationTime"`
	Rules           []Rule    `json:"rules"`
}

// Rule is one security group permission.
type Rule struct {
	RuleID        string    `json:"ruleId"`
	Direction     string    `json:"direction"`
	IPProtocol    string    `json:"ipProtocol"`
	PortRange     string    `json:"portRange"`
	SourceCidrIP  string    `json:"sourceCidrIp,omitempty"`
	SourceGroupID string    `json:"sourceGroupId,omitempty"`
	DestCidrIP    string    `json:"destCidrIp,omitempty"`
	DestGroupID   string    `json:"destGroupId,omitempty"`
	Policy        string    `json:"policy"`
	Priority      int       `json:"priority"`
	NicType       string    `json:"nicType"`
	Description   string    `json:"description,omitempty"`
	CreateTime    time.Time `json:"createTime"`
}

// same reports whether two rules describe the same permission (ignoring id, description, time).
func (r Rule) same(o Rule) bool {
	return r.Direction == o.Direction && r.IPProtocol == o.IPProtocol && r.PortRange == o.PortRange &&
		r.SourceCidrIP == o.SourceCidrIP && r.SourceGroupID == o.SourceGroupID && r.DestCidrIP == o.DestCidrIP &&
		r.DestGroupID == o.DestGroupID && r.Policy == o.Policy && r.Priority == o.Priority && r.NicType == o.NicType
}

func createSecurityGroup(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	if ids, _ := x.token("CreateSecurityGroup"); len(ids) == 1 {
		return obj{"SecurityGroupId": ids[0]}, nil
	}
	vpcID := x.str("VpcId")
	if vpcID != "" {
		if v, ok := x.c.Vpcs[vpcID]; !ok || v.RegionID != x.region {
			return nil, notFound("InvalidVpcId.NotFound", "VPC", vpcID)
		}
	}
	typ := x.str("SecurityGroupType")
	if typ == "" {
		typ = "normal"
	}
	if typ != "normal" && typ != "enterprise" {
		return nil, invalid("SecurityGroupType", typ)
	}
	sg := &SecurityGroup{
		SecurityGroupID: newID("sg-"), RegionID: x.region, VpcID: vpcID, Name: x.str("SecurityGroupName"),
		Description: x.str("Description"), Type: typ, CreationTime: x.now, Rules: []Rule{},
	}
	x.c.SecurityGroups[sg.SecurityGroupID] = sg
	if _, k := x.token("CreateSecurityGroup"); k != "" {
		x.c.Tokens[k] = []string{sg.SecurityGroupID}
	}
	return obj{"SecurityGroupId": sg.SecurityGroupID}, nil
}

func (x *rpcCtx) securityGroup() (*SecurityGroup, error) {
	id, err := x.req("SecurityGroupId")
	if err != nil {
		return nil, err
	}
	sg, ok := x.c.SecurityGroups[id]
	if !ok || sg.RegionID != x.region {
		return nil, notFound("InvalidSecurityGroupId.NotFound", "security group", id)
	}
	return sg, nil
}

func deleteSecurityGroup(x *rpcCtx) (obj, error) {
	sg, err := x.securityGroup()
	if err != nil {
		return nil, err
	}
	for _, in := range x.c.Instances {
		if slices.Contains(in.SecurityGroupIDs, sg.SecurityGroupID) {
			return nil, errf(http.StatusForbidden, "DependencyViolation",
				"There is still instance(s) in the specified security group.")
		}
	}
	for _, other := range x.c.SecurityGroups {
		for _, r := range other.Rules {
			if other.SecurityGroupID != sg.SecurityGroupID && (r.SourceGroupID == sg.SecurityGroupID || r.DestGroupID == sg.SecurityGroupID) {
				return nil, errf(http.StatusForbidden, "DependencyViolation",
					"The specified security group has been authorized in another security group.")
			}
		}
	}
	delete(x.c.SecurityGroups, sg.SecurityGroupID)
	return obj{}, nil
}

func describeSecurityGroups(x *rpcCtx) (obj, error) {
	if _, err := x.checkRegion(); err != nil {
		return nil, err
	}
	ids, err := x.ids("SecurityGroupIds")
	if err != nil {
		return nil, err
	}
	if id := x.str("SecurityGroupId"); id != "" {
		ids = append(ids, id)
	}
	vpc, name := x.str("VpcId"), x.str("SecurityGroupName")
	var all []*SecurityGroup
	for _, sg := range x.c.SecurityGroups {
		if sg.RegionID == x.region && (len(ids) == 0 || slices.Contains(ids, sg.SecurityGroupID)) &&
			(vpc == "" || sg.VpcID == vpc) && (name == "" || sg.Name == name) {
			all = append(all, sg)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].SecurityGroupID < all[j].SecurityGroupID })
	num, size, from, to, err := x.page(len(all))
	if err != nil {
		return nil, err
	}
	out := []obj{}
	for _, sg := range all[from:to] {
		n := 0
		for _, in := range x.c.Instances {
			if slices.Contains(in.SecurityGroupIDs, sg.SecurityGroupID) {
				n++
			}
		}
		out = append(out, obj{
			"SecurityGroupId": sg.SecurityGroupID, "SecurityGroupName": sg.Name, "Description": sg.Description,
			"VpcId": sg.VpcID, "SecurityGroupType": sg.Type, "CreationTime": isoTimeSec(sg.CreationTime),
			"EcsCount": n, "RuleCount": len(sg.Rules),
		})
	}
	return obj{"SecurityGroups": obj{"SecurityGroup": out}, "TotalCount": len(all), "PageNumber": num,
		"PageSize": size, "RegionId": x.region}, nil
}

func ruleView(r Rule) obj {
	return obj{
		"SecurityGroupRuleId": r.RuleID, "Direction": r.Direction, "IpProtocol": strings.ToUpper(r.IPProtocol),
		"PortRange": r.PortRange, "SourceCidrIp": r.SourceCidrIP, "SourceGroupId": r.SourceGroupID,
		"DestCidrIp": r.DestCidrIP, "DestGroupId": r.DestGroupID, "Policy": capitalize(r.Policy),
		"Priority": strconv.Itoa(r.Priority), "NicType": r.NicType, "Description": r.Description,
		"CreateTime": isoTimeSec(r.CreateTime),
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func describeSecurityGroupAttribute(x *rpcCtx) (obj, error) {
	sg, err := x.securityGroup()
	if err != nil {
		return nil, err
	}
	dir := x.str("Direction")
	if dir == "" {
		dir = "all"
	}
	perms := []obj{}
	for _, r := range sg.Rules {
		if dir == "all" || dir == r.Direction {
			perms = append(perms, ruleView(r))
		}
	}
	return obj{
		"SecurityGroupId": sg.SecurityGroupID, "SecurityGroupName": sg.Name, "Description": sg.Description,
		"VpcId": sg.VpcID, "RegionId": sg.RegionID, "InnerAccessPolicy": "Accept",
		"Permissions": obj{"Permission": perms},
	}, nil
}

// rulesFromParams reads the rule of the top-level fields, or each Permissions.N.* rule.
func (x *rpcCtx) rulesFromParams(dir string) ([]Rule, error) {
	get := func(prefix string) func(string) string {
		return func(f string) string { return x.str(prefix + f) }
	}
	var getters []func(string) string
	if x.str("IpProtocol") != "" {
		getters = append(getters, get(""))
	}
	for i := 1; x.str("Permissions."+strconv.Itoa(i)+".IpProtocol") != ""; i++ {
		getters = append(getters, get("Permissions."+strconv.Itoa(i)+"."))
	}
	if len(getters) == 0 {
		return nil, missing("IpProtocol")
	}
	var out []Rule
	for _, g := range getters {
		r, err := parseRule(dir, g)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRule(dir string, g func(string) string) (Rule, error) {
	r := Rule{
		Direction: dir, IPProtocol: strings.ToLower(g("IpProtocol")), PortRange: g("PortRange"),
		Policy: strings.ToLower(g("Policy")), NicType: g("NicType"), Description: g("Description"),
		SourceCidrIP: g("SourceCidrIp"), SourceGroupID: g("SourceGroupId"),
		DestCidrIP: g("DestCidrIp"), DestGroupID: g("DestGroupId"),
	}
	switch r.IPProtocol {
	case "tcp", "udp":
		lo, hi, ok := strings.Cut(r.PortRange, "/")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil || a < 1 || b > 65535 || a > b {
			return Rule{}, errf(http.StatusBadRequest, "InvalidPortRange.Malformed", "The specified PortRange %q is not valid.", r.PortRange)
		}
	case "icmp", "gre", "all", "icmpv6":
		if r.PortRange == "" {
			r.PortRange = "-1/-1"
		}
		if r.PortRange != "-1/-1" {
			return Rule{}, errf(http.StatusBadRequest, "InvalidPortRange.Malformed", "The PortRange of %s must be -1/-1.", r.IPProtocol)
		}
	default:
		return Rule{}, errf(http.StatusBadRequest, "InvalidIpProtocol.Malformed", "The specified IpProtocol %q is not valid.", r.IPProtocol)
	}
	if r.Policy == "" {
		r.Policy = "accept"
	}
	if r.Policy != "accept" && r.Policy != "drop" {
		return Rule{}, invalid("Policy", r.Policy)
	}
	if r.NicType == "" {
		r.NicType = "intranet"
	}
	r.Priority = 1
	if p := g("Priority"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 100 {
			return Rule{}, invalid("Priority", p)
		}
		r.Priority = n
	}
	for _, c := range []string{r.SourceCidrIP, r.DestCidrIP} {
		if c == "" {
			continue
		}
		if _, err := netip.ParsePrefix(c); err != nil {
			if _, err := netip.ParseAddr(c); err != nil {
				return Rule{}, errf(http.StatusBadRequest, "InvalidCidrIp.Malformed", "The specified CIDR %q is not valid.", c)
			}
		}
	}
	if dir == dirIngress && r.SourceCidrIP == "" && r.SourceGroupID == "" {
		return Rule{}, missing("SourceCidrIp")
	}
	if dir == dirEgress && r.DestCidrIP == "" && r.DestGroupID == "" {
		return Rule{}, missing("DestCidrIp")
	}
	return r, nil
}

func authorizeSecurityGroup(dir string) rpcHandler {
	return func(x *rpcCtx) (obj, error) {
		sg, err := x.securityGroup()
		if err != nil {
			return nil, err
		}
		rules, err := x.rulesFromParams(dir)
		if err != nil {
			return nil, err
		}
		var ids []string
	next:
		for _, r := range rules {
			for _, g := range []string{r.SourceGroupID, r.DestGroupID} {
				if _, ok := x.c.SecurityGroups[g]; g != "" && !ok {
					return nil, notFound("InvalidSecurityGroupId.NotFound", "security group", g)
				}
			}
			for _, have := range sg.Rules {
				if have.same(r) {
					ids = append(ids, have.RuleID)
					continue next
				}
			}
			if len(sg.Rules) >= 200 {
				return nil, errf(http.StatusForbidden, "QuotaExceed.AuthorizationRule", "The security group %q has too many rules.", sg.SecurityGroupID)
			}
			r.RuleID, r.CreateTime = newID("sgr-"), x.now
			sg.Rules = append(sg.Rules, r)
			ids = append(ids, r.RuleID)
		}
		return obj{"SecurityGroupRuleIds": obj{"SecurityGroupRuleId": ids}}, nil
	}
}

// revokeSecurityGroup removes the rules named by SecurityGroupRuleId.N or by their fields.
// Revoking a rule that does not exist succeeds, as on Alibaba.
func revokeSecurityGroup(dir string) rpcHandler {
	return func(x *rpcCtx) (obj, error) {
		sg, err := x.securityGroup()
		if err != nil {
			return nil, err
		}
		ruleIDs := x.list("SecurityGroupRuleId", "")
		var rules []Rule
		if len(ruleIDs) == 0 {
			if rules, err = x.rulesFromParams(dir); err != nil {
				return nil, err
			}
		}
		kept := sg.Rules[:0]
		for _, have := range sg.Rules {
			drop := have.Direction == dir && slices.Contains(ruleIDs, have.RuleID)
			for _, r := range rules {
				drop = drop || have.same(r)
			}
			if !drop {
				kept = append(kept, have)
			}
		}
		sg.Rules = kept
		return obj{}, nil
	}
}
