package aliyunsim

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"hash/crc64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Bucket is an OSS bucket. Bucket names are global across accounts, as on OSS.
type Bucket struct {
	Name         string             `json:"name"`
	Owner        string             `json:"owner"`
	Region       string             `json:"region"`
	StorageClass string             `json:"storageClass"`
	ACL          string             `json:"acl"`
	CreationDate time.Time          `json:"creationDate"`
	Objects      map[string]*Object `json:"objects"`
}

// Object is an OSS object.
type Object struct {
	Key          string            `json:"key"`
	Data         []byte            `json:"data"`
	ContentType  string            `json:"contentType"`
	ETag         string            `json:"etag"`
	Type         string            `json:"type"` // Normal or Multipart
	Meta         map[string]string `json:"meta,omitempty"`
	LastModified time.Time         `json:"lastModified"`
}

type multipartState struct {
	UploadID    string            `json:"uploadId"`
	Bucket      string            `json:"bucket"`
	Key         string            `json:"key"`
	ContentType string            `json:"contentType"`
	Meta        map[string]string `json:"meta,omitempty"`
	Initiated   time.Time         `json:"initiated"`
	Parts       map[int]*part     `json:"parts"`
}

type part struct {
	Data []byte `json:"data"`
	ETag string `json:"etag"`
}

var (
	crcTable      = crc64.MakeTable(crc64.ECMA)
	bucketNameRex = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
)

// MaxOSSObjectSize bounds one upload body; the simulator keeps objects in memory.
const MaxOSSObjectSize = 1 << 30

func etagOf(b []byte) string {
	sum := md5.Sum(b)
	return `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
}

type ossCall struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	key    AccessKey
	bucket string
	object string
	q      url.Values
	reqID  string
	// content is an object body to send once the state lock is released
	// (GetObject), so a slow reader holds up no other request.
	content *bytes.Reader
	modTime time.Time
}

// ossOperation names the OSS operation of a request (for faults and call counts).
func ossOperation(method, bucket, object string, q url.Values) string {
	has := func(k string) bool { _, ok := q[k]; return ok }
	switch {
	case bucket == "":
		return "ListBuckets"
	case object == "":
		switch method {
		case http.MethodPut:
			return "PutBucket"
		case http.MethodDelete:
			return "DeleteBucket"
		case http.MethodPost:
			if has("delete") {
				return "DeleteMultipleObjects"
			}
		case http.MethodGet:
			switch {
			case has("bucketInfo"):
				return "GetBucketInfo"
			case has("location"):
				return "GetBucketLocation"
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			case len(q) == 0 || has("prefix") || has("marker") || has("max-keys") || has("delimiter") || has("encoding-type"):
				return "ListObjects"
			}
		}
	default:
		switch method {
		case http.MethodPut:
			if has("partNumber") {
				return "UploadPart"
			}
			return "PutObject"
		case http.MethodGet:
			return "GetObject"
		case http.MethodHead:
			return "HeadObject"
		case http.MethodDelete:
			if has("uploadId") {
				return "AbortMultipartUpload"
			}
			return "DeleteObject"
		case http.MethodPost:
			if has("uploads") {
				return "InitiateMultipartUpload"
			}
			if has("uploadId") {
				return "CompleteMultipartUpload"
			}
		}
	}
	return ""
}

func (s *Server) serveOSS(w http.ResponseWriter, r *http.Request) {
	c := &ossCall{s: s, w: w, r: r, reqID: strings.ReplaceAll(newRequestID(), "-", "")[:24], q: r.URL.Query()}
	w.Header().Set("x-oss-request-id", c.reqID)
	w.Header().Set("Server", "AliyunOSS")
	path := strings.TrimPrefix(r.URL.Path, "/")
	c.bucket, c.object, _ = strings.Cut(path, "/")
	key, err := s.authenticateOSS(r, c.bucket, c.object)
	if err != nil {
		c.fail(err)
		return
	}
	c.key = key
	op := ossOperation(r.Method, c.bucket, c.object, c.q)
	if op == "" {
		c.fail(ossErr(http.StatusNotImplemented, "NotImplemented", "This operation is not supported by aliyunsim."))
		return
	}
	if err := s.faults.before(r.Context(), op); err != nil {
		c.fail(err)
		return
	}
	// Read bodies before taking the lock.
	var body []byte
	if r.Body != nil {
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxOSSObjectSize+1))
		if err != nil {
			c.fail(ossErr(http.StatusBadRequest, "IncompleteBody", "reading the request body failed: "+err.Error()))
			return
		}
		if len(body) > MaxOSSObjectSize {
			c.fail(ossErr(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."))
			return
		}
	}
	s.mu.Lock()
	handlers := map[string]func([]byte) error{
		"ListBuckets": c.listBuckets, "PutBucket": c.putBucket, "DeleteBucket": c.deleteBucket,
		"GetBucketInfo": c.getBucketInfo, "GetBucketLocation": c.getBucketLocation,
		"ListObjects": c.listObjects, "ListObjectsV2": c.listObjects, "DeleteMultipleObjects": c.deleteMultiple,
		"PutObject": c.putObject, "GetObject": c.getObject, "HeadObject": c.getObject, "DeleteObject": c.deleteObject,
		"InitiateMultipartUpload": c.initiateMultipart, "UploadPart": c.uploadPart,
		"CompleteMultipartUpload": c.completeMultipart, "AbortMultipartUpload": c.abortMultipart,
	}
	err = handlers[op](body)
	// Parts are not worth a rewrite of the state file each: an interrupted upload is restarted
	// by the client anyway. They are saved with the next change.
	if err == nil && r.Method != http.MethodGet && r.Method != http.MethodHead && op != "UploadPart" {
		s.changed()
	}
	s.mu.Unlock()
	if err != nil {
		c.fail(err)
		return
	}
	if c.content != nil {
		http.ServeContent(c.w, c.r, "", c.modTime, c.content)
	}
}

type ossErrorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
	EC        string   `xml:"EC"`
}

func (c *ossCall) fail(err error) {
	e, ok := err.(*apiError)
	if !ok {
		e = ossErr(http.StatusInternalServerError, "InternalError", err.Error())
	}
	b, _ := xml.Marshal(ossErrorBody{Code: e.Code, Message: e.Message, RequestID: c.reqID, HostID: c.r.Host, EC: "0000-00000000"})
	b = append([]byte(xml.Header), b...)
	c.w.Header().Set("x-oss-ec", "0000-00000000")
	if c.r.Method == http.MethodHead {
		c.w.Header().Set("x-oss-err", base64.StdEncoding.EncodeToString(b))
		c.w.WriteHeader(e.Status)
		return
	}
	c.w.Header().Set("Content-Type", "application/xml")
	c.w.WriteHeader(e.Status)
	_, _ = c.w.Write(b)
}

func (c *ossCall) xml(v any) error {
	b, err := xml.Marshal(v)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", "application/xml")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(append([]byte(xml.Header), b...))
	return nil
}

func (c *ossCall) ownedBucket() (*Bucket, error) {
	b, ok := c.s.st.Buckets[c.bucket]
	if !ok {
		return nil, ossErr(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist.")
	}
	if b.Owner != c.key.AccountID {
		return nil, ossErr(http.StatusForbidden, "AccessDenied", "You have no right to access this bucket.")
	}
	return b, nil
}

type ossOwner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

type bucketXML struct {
	Name             string `xml:"Name"`
	Location         string `xml:"Location"`
	Region           string `xml:"Region"`
	CreationDate     string `xml:"CreationDate"`
	StorageClass     string `xml:"StorageClass"`
	ExtranetEndpoint string `xml:"ExtranetEndpoint"`
	IntranetEndpoint string `xml:"IntranetEndpoint"`
}

func (c *ossCall) bucketXML(b *Bucket) bucketXML {
	return bucketXML{
		Name: b.Name, Location: "oss-" + b.Region, Region: b.Region, StorageClass: b.StorageClass,
		CreationDate:     b.CreationDate.UTC().Format("2006-01-02T15:04:05.000Z"),
		ExtranetEndpoint: c.r.Host, IntranetEndpoint: c.r.Host,
	}
}

func (c *ossCall) listBuckets([]byte) error {
	var names []string
	for n, b := range c.s.st.Buckets {
		if b.Owner == c.key.AccountID && strings.HasPrefix(n, c.q.Get("prefix")) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	type result struct {
		XMLName xml.Name    `xml:"ListAllMyBucketsResult"`
		Prefix  string      `xml:"Prefix"`
		Owner   ossOwner    `xml:"Owner"`
		Buckets []bucketXML `xml:"Buckets>Bucket"`
	}
	out := result{Prefix: c.q.Get("prefix"), Owner: ossOwner{c.key.AccountID, c.key.AccountID}}
	for _, n := range names {
		out.Buckets = append(out.Buckets, c.bucketXML(c.s.st.Buckets[n]))
	}
	return c.xml(out)
}

func (c *ossCall) putBucket(body []byte) error {
	if !bucketNameRex.MatchString(c.bucket) {
		return ossErr(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.")
	}
	if b, ok := c.s.st.Buckets[c.bucket]; ok {
		if b.Owner == c.key.AccountID {
			c.w.WriteHeader(http.StatusOK) // OSS answers 200 to the owner re-creating its bucket
			return nil
		}
		return ossErr(http.StatusConflict, "BucketAlreadyExists", "The requested bucket name is not available.")
	}
	class := "Standard"
	if len(bytes.TrimSpace(body)) > 0 {
		var cfg struct {
			StorageClass string `xml:"StorageClass"`
		}
		if err := xml.Unmarshal(body, &cfg); err != nil {
			return ossErr(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed.")
		}
		if cfg.StorageClass != "" {
			class = cfg.StorageClass
		}
	}
	acl := c.r.Header.Get("x-oss-acl")
	if acl == "" {
		acl = "private"
	}
	c.s.st.Buckets[c.bucket] = &Bucket{Name: c.bucket, Owner: c.key.AccountID, Region: c.s.ossRegion(c.r),
		StorageClass: class, ACL: acl, CreationDate: c.s.now(), Objects: map[string]*Object{}}
	c.w.Header().Set("Location", "/"+c.bucket)
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// ossRegion is the region of a V4 credential scope, else the default region.
func (s *Server) ossRegion(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if i := strings.Index(auth, "Credential="); i >= 0 {
		parts := strings.Split(strings.SplitN(auth[i+len("Credential="):], ",", 2)[0], "/")
		if len(parts) == 5 && parts[2] != "" {
			return parts[2]
		}
	}
	return DefaultRegion
}

func (c *ossCall) deleteBucket([]byte) error {
	b, err := c.ownedBucket()
	if err != nil {
		return err
	}
	if len(b.Objects) > 0 {
		return ossErr(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty.")
	}
	for _, u := range c.s.st.Uploads {
		if u.Bucket == b.Name {
			return ossErr(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete has unfinished multipart uploads.")
		}
	}
	delete(c.s.st.Buckets, b.Name)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (c *ossCall) getBucketInfo([]byte) error {
	b, err := c.ownedBucket()
	if err != nil {
		return err
	}
	type info struct {
		XMLName xml.Name `xml:"BucketInfo"`
		Bucket  struct {
			bucketXML
			Owner ossOwner `xml:"Owner"`
			ACL   string   `xml:"AccessControlList>Grant"`
		} `xml:"Bucket"`
	}
	var out info
	out.Bucket.bucketXML = c.bucketXML(b)
	out.Bucket.Owner = ossOwner{b.Owner, b.Owner}
	out.Bucket.ACL = b.ACL
	return c.xml(out)
}

func (c *ossCall) getBucketLocation([]byte) error {
	b, err := c.ownedBucket()
	if err != nil {
		return err
	}
	return c.xml(struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		V       string   `xml:",chardata"`
	}{V: "oss-" + b.Region})
}

type contentsXML struct {
	Key          string   `xml:"Key"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
	Type         string   `xml:"Type"`
	Size         int      `xml:"Size"`
	StorageClass string   `xml:"StorageClass"`
	Owner        ossOwner `xml:"Owner"`
}

// listObjects serves ListObjects (marker) and ListObjectsV2 (continuation-token/start-after).
func (c *ossCall) listObjects([]byte) error {
	b, err := c.ownedBucket()
	if err != nil {
		return err
	}
	v2 := c.q.Get("list-type") == "2"
	prefix, delim := c.q.Get("prefix"), c.q.Get("delimiter")
	marker := c.q.Get("marker")
	if v2 {
		marker = c.q.Get("start-after")
		if t := c.q.Get("continuation-token"); t != "" {
			marker = t
		}
	}
	maxKeys := 100
	if v := c.q.Get("max-keys"); v != "" {
		if maxKeys, err = strconv.Atoi(v); err != nil || maxKeys < 0 || maxKeys > 1000 {
			return ossErr(http.StatusBadRequest, "InvalidArgument", "max-keys must be 0 to 1000.")
		}
	}
	enc := func(s string) string { return s }
	if c.q.Get("encoding-type") == "url" {
		enc = url.QueryEscape
	}
	keys := make([]string, 0, len(b.Objects))
	for k := range b.Objects {
		if strings.HasPrefix(k, prefix) && k > marker {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var contents []contentsXML
	var prefixes []string
	seen := map[string]bool{}
	truncated, next := false, ""
	for _, k := range keys {
		if len(contents)+len(prefixes) >= maxKeys {
			truncated = true
			break
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				p := k[:len(prefix)+i+len(delim)]
				if !seen[p] {
					seen[p] = true
					prefixes = append(prefixes, enc(p))
				}
				next = k
				continue
			}
		}
		o := b.Objects[k]
		contents = append(contents, contentsXML{Key: enc(k), LastModified: o.LastModified.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag: o.ETag, Type: o.Type, Size: len(o.Data), StorageClass: b.StorageClass, Owner: ossOwner{b.Owner, b.Owner}})
		next = k
	}
	if !truncated {
		next = ""
	}
	type result struct {
		XMLName               xml.Name      `xml:"ListBucketResult"`
		Name                  string        `xml:"Name"`
		Prefix                string        `xml:"Prefix"`
		Marker                *string       `xml:"Marker,omitempty"`
		StartAfter            *string       `xml:"StartAfter,omitempty"`
		ContinuationToken     *string       `xml:"ContinuationToken,omitempty"`
		MaxKeys               int           `xml:"MaxKeys"`
		Delimiter             string        `xml:"Delimiter"`
		EncodingType          string        `xml:"EncodingType,omitempty"`
		IsTruncated           bool          `xml:"IsTruncated"`
		NextMarker            *string       `xml:"NextMarker,omitempty"`
		NextContinuationToken *string       `xml:"NextContinuationToken,omitempty"`
		KeyCount              *int          `xml:"KeyCount,omitempty"`
		Contents              []contentsXML `xml:"Contents"`
		CommonPrefixes        []string      `xml:"CommonPrefixes>Prefix"`
	}
	out := result{Name: b.Name, Prefix: enc(prefix), MaxKeys: maxKeys, Delimiter: enc(delim),
		EncodingType: c.q.Get("encoding-type"), IsTruncated: truncated, Contents: contents, CommonPrefixes: prefixes}
	if v2 {
		sa, ct, n := enc(c.q.Get("start-after")), c.q.Get("continuation-token"), len(contents)+len(prefixes)
		out.StartAfter, out.ContinuationToken, out.KeyCount = &sa, &ct, &n
		if truncated {
			out.NextContinuationToken = &next
		}
	} else {
		m := enc(marker)
		out.Marker = &m
		if truncated {
			nm := enc(next)
			out.NextMarker = &nm
		}
	}
	return c.xml(out)
}

func (c *ossCall) deleteMultiple(body []byte) error {
	b, err := c.ownedBucket()
	if err != nil {
		return err
	}
	var req struct {
		Quiet   bool `xml:"Quiet"`
		Objects []struct {
			Key string `xml:"Key"`
		} `xml:"Object"`
	}
	if err := xml.Unmarshal(body, &req); err != nil {
		return ossErr(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed.")
	}
	enc := func(s string) string { return s }
	if c.q.Get("encoding-type") == "url" {
		enc = url.QueryEscape
	}
	type deleted struct {
		Key string `xml:"Key"`
	}
	type result struct {
		XMLName      xml.Name  `xml:"DeleteResult"`
		EncodingType string    `xml:"EncodingType,omitempty"`
		Deleted      []deleted `xml:"Deleted"`
	}
	out := result{EncodingType: c.q.Get("encoding-type")}
	for _, o := range req.Objects {
		delete(b.Objects, o.Key)
		if !req.Quiet {
			out.Deleted = append(out.Deleted, deleted{enc(o.Key)})
		}
	}
	return c.xml(out)
}

func userMeta(h http.Header) map[string]string {
	m := map[string]string{}
	for k, v := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-oss-meta-") {
			m[lk] = v[0]
		}
	}
	return m
}

func (c *ossCall) checkMD5(body []byte) error {
	want := c.r.Header.Get("Content-MD5")
	if want == "" {
		return nil
	}
	sum := md5.Sum(body)
	if base64.StdEncoding.EncodeToString(sum[:]) != want {
		return ossErr(http.StatusBadRequest, "InvalidDigest", "The Content-MD5 you specified is not valid.")
	}
	return nil
}

func (c *ossCall) putObject(body []byte) error {
	b, err := c.ownedBucket()
	if err != nil {
		return err
	}
	if err := c.checkMD5(body); err != nil {
		return err
	}
	if c.r.Header.Get("x-oss-forbid-overwrite") == "true" {
		if _, ok := b.Objects[c.object]; ok {
			return ossErr(http.StatusConflict, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
		}
	}
	ct := c.r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	o := &Object{Key: c.object, Data: body, ContentType: ct, ETag: etagOf(body), Type: "Normal",
		Meta: userMeta(c.r.Header), LastModified: c.s.now()}
	b.Objects[c.object] = o
	sum := md5.Sum(body)
	c.w.Header().Set("ETag", o.ETag)
	c.w.Header().Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(body, crcTable), 10))
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// getObject serves GetObject and HeadObject (with Range and conditional headers).
func (c *ossCall) getObject([]byte) error {
	b, err := c.ownedBucket()
	if err != nil {
		return err
	}
	o, ok := b.Objects[c.object]
	if !ok {
		return ossErr(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	h := c.w.Header()
	h.Set("Content-Type", o.ContentType)
	h.Set("ETag", o.ETag)
	h.Set("x-oss-object-type", o.Type)
	h.Set("x-oss-storage-class", b.StorageClass)
	h.Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(o.Data, crcTable), 10))
	for k, v := range o.Meta {
		h.Set(k, v)
	}
	// Sent after the lock is released; an object's Data is replaced, never
	// changed in place, so the reader stays valid.
	c.content, c.modTime = bytes.NewReader(o.Data), o.LastModified
	return nil
}

func (c *ossCall) deleteObject([]byte) error {
	b, err := c.ownedBucket()
	if err != nil {
		return err
	}
	delete(b.Objects, c.object)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (c *ossCall) initiateMultipart([]byte) error {
	if _, err := c.ownedBucket(); err != nil {
		return err
	}
	ct := c.r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	u := &multipartState{UploadID: strings.ToUpper(strings.ReplaceAll(newRequestID(), "-", "")), Bucket: c.bucket,
		Key: c.object, ContentType: ct, Meta: userMeta(c.r.Header), Initiated: c.s.now(), Parts: map[int]*part{}}
	c.s.st.Uploads[u.UploadID] = u
	return c.xml(struct {
		XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		UploadID string   `xml:"UploadId"`
	}{Bucket: c.bucket, Key: c.object, UploadID: u.UploadID})
}

func (c *ossCall) upload() (*multipartState, error) {
	if _, err := c.ownedBucket(); err != nil {
		return nil, err
	}
	u, ok := c.s.st.Uploads[c.q.Get("uploadId")]
	if !ok || u.Bucket != c.bucket || u.Key != c.object {
		return nil, ossErr(http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist.")
	}
	return u, nil
}

func (c *ossCall) uploadPart(body []byte) error {
	u, err := c.upload()
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.q.Get("partNumber"))
	if err != nil || n < 1 || n > 10000 {
		return ossErr(http.StatusBadRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000.")
	}
	if err := c.checkMD5(body); err != nil {
		return err
	}
	p := &part{Data: body, ETag: etagOf(body)}
	u.Parts[n] = p
	c.w.Header().Set("ETag", p.ETag)
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(body, crcTable), 10))
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func (c *ossCall) completeMultipart(body []byte) error {
	u, err := c.upload()
	if err != nil {
		return err
	}
	var req struct {
		Parts []struct {
			PartNumber int    `xml:"PartNumber"`
			ETag       string `xml:"ETag"`
		} `xml:"Part"`
	}
	if err := xml.Unmarshal(body, &req); err != nil || len(req.Parts) == 0 {
		return ossErr(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate.")
	}
	var data []byte
	var sums []byte
	last := 0
	for i, rp := range req.Parts {
		if rp.PartNumber <= last {
			return ossErr(http.StatusBadRequest, "InvalidPartOrder", "The list of parts was not in ascending order.")
		}
		last = rp.PartNumber
		p, ok := u.Parts[rp.PartNumber]
		if !ok || strings.Trim(p.ETag, `"`) != strings.Trim(rp.ETag, `"`) {
			return ossErr(http.StatusBadRequest, "InvalidPart", "One or more of the specified parts could not be found.")
		}
		if i < len(req.Parts)-1 && len(p.Data) < 100*1024 {
			return ossErr(http.StatusBadRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size.")
		}
		data = append(data, p.Data...)
		raw, _ := hex.DecodeString(strings.Trim(p.ETag, `"`))
		sums = append(sums, raw...)
	}
	b := c.s.st.Buckets[c.bucket]
	sum := md5.Sum(sums)
	etag := `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + "-" + strconv.Itoa(len(req.Parts)) + `"`
	b.Objects[u.Key] = &Object{Key: u.Key, Data: data, ContentType: u.ContentType, ETag: etag, Type: "Multipart",
		Meta: u.Meta, LastModified: c.s.now()}
	delete(c.s.st.Uploads, u.UploadID)
	c.w.Header().Set("x-oss-hash-crc64ecma", strconv.FormatUint(crc64.Checksum(data, crcTable), 10))
	return c.xml(struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		Location string   `xml:"Location"`
		Bucket   string   `xml:"Bucket"`
		Key      string   `xml:"Key"`
		ETag     string   `xml:"ETag"`
	}{Location: "http://" + c.r.Host + "/" + c.bucket + "/" + u.Key, Bucket: c.bucket, Key: u.Key, ETag: etag})
}

func (c *ossCall) abortMultipart([]byte) error {
	u, err := c.upload()
	if err != nil {
		return err
	}
	delete(c.s.st.Uploads, u.UploadID)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
