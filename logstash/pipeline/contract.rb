# Contract check for the shopstream Logstash pipelines (ruby filter, `path =>` + `script_params`).
#
# Hand-written; the rules come from the GENERATED contract-<entity>.json (conf/contract.yaml as
# JSON), so this file holds no field list. It is the Ruby twin of
# shopstream.contract.Contract.check_record (one definition of validity, see the contract's
# header) and judges the raw `message` itself, parsed ONCE here with duplicate-key detection, not
# the fields the json filter set (that filter cannot see duplicate keys, and an event's own
# @timestamp/tags/message fields would hide unknown keys of the same name):
#   raw: no value, size, UTF-8 (Logstash's codec turns invalid bytes into U+FFFD, which the
#        contract forbids everywhere), BOM, surrogate escapes, escaped keys, one flat JSON object
#        (Ruby's JSON parser also takes comments and other extensions: the shape check refuses
#        them), duplicate keys;
#   fields: unknown/missing/null, JSON type and integer range, forbidden code points, the whole-
#        string pattern, calendar-valid time inside [earliest, ingest + skew] (ingest = the Kafka
#        timestamp capped at this clock), const, min/max/step, max_length, allowed values,
#        conditional values, email domain;
#   key: the Kafka key is the entity's key field as a decimal string.
# An invalid record is reshaped into a dead letter (entity, topic/partition/offset,
# kafka_timestamp, reason, raw) and flagged with [@metadata][shopstream][dead_letter] so the
# pipeline routes it to shopstream-deadletter-<entity>-*. tests/test_validity_fuzz.py runs this
# file under JRuby (what Logstash runs) against the Python and Spark validators.
#
# mode "dlq" (pipeline shopstream-dead-letters): reshapes an event that OpenSearch rejected (read
# back from Logstash's dead-letter queue) into the same dead-letter document, id rejected-<event_id>.
require "json"
require "time"
require "date"

# A JSON object (the only object there is in a valid event) that refuses a second value per key.
class ShopstreamUniqueHash < Hash
  def []=(key, value)
    raise JSON::ParserError, "duplicate key #{key.inspect}" if key?(key)

    super
  end
end
ESCAPE_PAIR = /\\./m.freeze
STRING_TOKEN = /"[^"\x00-\x1f]*"/.freeze
# after escapes and strings are cut out: one object of scalars, nothing before or after
FLAT_OBJECT = /\A[ \t\n\r]*\{[ \t\n\r0-9A-Za-z:,.+\-]*\}[ \t\n\r]*\z/.freeze
BAD_ESCAPE = /(?<!\\)(?:\\\\)*\\(?:[^"\\\/bfnrtu]|u(?![0-9a-fA-F]{4}))/.freeze
RAW_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/.freeze

def register(params)
  @mode = params.fetch("mode", "contract")
  @raw_max = 8192
  return unless @mode == "contract"

  rules = JSON.parse(File.read(params.fetch("rules")))
  @entity = rules.fetch("entity")
  @max_bytes = rules.fetch("max_event_bytes")
  @raw_max = rules.fetch("raw_max_chars")
  @key_field = rules.fetch("key_field")
  @surrogate_escape = Regexp.new(rules.fetch("surrogate_escape"))
  @key_escape = Regexp.new(rules.fetch("key_escape"))
  @forbidden = Regexp.new(rules.fetch("forbidden_text"))
  @fields = rules.fetch("fields")
  @known = @fields.map { |f| f["name"] }
  # the contract's patterns are unanchored: they must match the WHOLE string (\z, never $ or \Z)
  @patterns = {}
  @earliest = {}
  @fields.each do |f|
    @patterns[f["name"]] = Regexp.new("\\A(?:#{f['pattern']})\\z") if f["pattern"]
    @earliest[f["name"]] = Time.iso8601(f["earliest"]) if f["earliest"]
  end
end

def filter(event)
  return reshape_rejected(event) if @mode == "dlq"

  reason = check(event)
  dead_letter(event, reason) unless reason.nil?
  [event]
end

def check(event)
  msg = event.get("message")
  return "record has no value (tombstone)" if msg.nil?

  msg = msg.to_s
  return "record is #{msg.bytesize} bytes; max_event_bytes is #{@max_bytes}" if msg.bytesize > @max_bytes
  return "not valid UTF-8" if !msg.valid_encoding? || msg.include?("\uFFFD")
  return "record starts with a byte order mark" if msg.start_with?("\uFEFF")
  return "record holds a \\uD800-\\uDFFF escape (send UTF-8, never surrogate escapes)" if @surrogate_escape.match?(msg)
  return "record spells a key with an escape (keys must be literal)" if @key_escape.match?(msg)
  return "not valid JSON: a control character or a bad escape" if RAW_CONTROL.match?(msg) || BAD_ESCAPE.match?(msg)

  shape = msg.gsub(ESCAPE_PAIR, "").gsub(STRING_TOKEN, "s")
  return "not valid JSON: not one object of scalars" unless FLAT_OBJECT.match?(shape)

  begin
    data = JSON.parse(msg, object_class: ShopstreamUniqueHash, allow_nan: false, max_nesting: 100,
                           create_additions: false)
  rescue JSON::ParserError => e
    return e.message.start_with?("duplicate key") ? "#{e.message.sub('duplicate key ', '')}: duplicate key" : "not valid JSON: #{e.message[0, 80]}"
  end
  return "#{@entity}: event must be a JSON object, got #{data.class}" unless data.is_a?(Hash)

  errors = (data.keys - @known).sort.map { |k| "#{k[0, 80]}: unknown field" }
  ingest = ingest_time(event)
  @fields.each do |f|
    name = f["name"]
    unless data.key?(name)
      errors << "#{name}: required field is missing" if f["required"]
      next
    end
    value = data[name]
    if value.nil?
      errors << "#{name}: must not be null" unless f["nullable"]
      next
    end
    errors.concat(check_value(f, value, data, ingest))
  end
  errors.concat(check_key(event, data))
  errors.empty? ? nil : errors.join("; ")
end

# The record's Kafka timestamp, capped at this clock (a producer cannot move it into the future).
def ingest_time(event)
  now = Time.now.utc
  ms = event.get("[@metadata][kafka][timestamp]")
  return now if ms.nil? || ms.to_i <= 0

  ts = Time.at(Rational(ms.to_i, 1000)).utc
  ts < now ? ts : now
end

def check_key(event, data)
  v = data[@key_field]
  return [] unless v.is_a?(Integer)

  key = event.get("[@metadata][kafka][key]")
  return ["kafka key: missing; must be #{@key_field} #{v} as a decimal string"] if key.nil?
  return ["kafka key: #{key.to_s[0, 40].inspect} is not #{@key_field} #{v} as a decimal string"] unless key.to_s == v.to_s

  []
end

def check_value(f, value, data, ingest)
  name = f["name"]
  if f["wire"] == "number"
    return ["#{name}: expected #{f['type']}, got #{value.class}"] unless value.is_a?(Integer)
    return ["#{name}: #{value} outside #{f['type']}"] if value < f["int_min"] || value > f["int_max"]
  elsif !value.is_a?(String)
    return ["#{name}: expected #{f['type']} (a JSON string), got #{value.class}"]
  elsif (bad = @forbidden.match(value))
    return [format("%s: forbidden character U+%04X", name, bad[0].ord)]
  end
  errors = []
  pattern = @patterns[name]
  if pattern && !pattern.match?(value)
    errors << "#{name}: #{value[0, 80].inspect} is not a valid #{f['type']}"
  elsif f["type"] == "timestamp"
    errors.concat(check_time(f, value, ingest))
  end
  errors << "#{name}: must be #{f['const'].inspect}" if f.key?("const") && value != f["const"]
  if value.is_a?(Integer)
    errors << "#{name}: #{value} < min #{f['min']}" if f.key?("min") && value < f["min"]
    errors << "#{name}: #{value} > max #{f['max']}" if f.key?("max") && value > f["max"]
    errors << "#{name}: #{value} is not min + k*#{f['step']}" if f.key?("step") && ((value - f.fetch("min", 0)) % f["step"]).nonzero?
  end
  if value.is_a?(String)
    errors << "#{name}: length #{value.length} > max_length #{f['max_length']}" if f.key?("max_length") && value.length > f["max_length"]
    errors << "#{name}: #{value[0, 80].inspect} not in allowed values" if f.key?("allowed") && !f["allowed"].include?(value)
    if f.key?("allowed_given")
      given = data[f["weights_by"]]
      table = given.is_a?(String) ? f["allowed_given"][given] : nil
      if table.nil?
        errors << "#{name}: #{value[0, 80].inspect} not in allowed values" unless f["allowed_given"].values.flatten.include?(value)
      elsif !table.include?(value)
        errors << "#{name}: #{value[0, 80].inspect} not allowed when #{f['weights_by']} is #{given.inspect}"
      end
    end
    if f.key?("email_domains")
      at = value.rindex("@")
      if at.nil? || at.zero?
        errors << "#{name}: not an email address"
      elsif !f["email_domains"].include?(value[(at + 1)..])
        errors << "#{name}: domain #{value[(at + 1)..][0, 80].inspect} not in allowed domains"
      end
    end
  end
  errors
end

# The contract's timestamp layout: yyyy-MM-ddTHH:mm:ss.ffffff+00:00 (fixed positions once the
# pattern matched). Time.utc would roll Feb 30 over into March and :60 into the next minute, so
# the calendar is checked first.
def check_time(f, value, ingest)
  name = f["name"]
  y, mo, d, h, mi, s, us = value[0, 4].to_i, value[5, 2].to_i, value[8, 2].to_i, value[11, 2].to_i,
                           value[14, 2].to_i, value[17, 2].to_i, value[20, 6].to_i
  unless Date.valid_date?(y, mo, d, Date::GREGORIAN) && h <= 23 && mi <= 59 && s <= 59 && y >= 1
    return ["#{name}: #{value.inspect} is not a calendar date and time"]
  end

  t = Time.utc(y, mo, d, h, mi, s, us)
  earliest = @earliest[name]
  return ["#{name}: #{value.inspect} is before the earliest event time #{f['earliest']}"] if earliest && t < earliest

  skew = f["max_future_skew_seconds"]
  if skew && t > ingest + skew
    return ["#{name}: #{value.inspect} is later than the ingest time #{ingest.strftime('%Y-%m-%dT%H:%M:%S')}Z + #{skew}s"]
  end

  []
end

def dead_letter(event, reason)
  raw = event.get("message").to_s
  kafka = event.get("[@metadata][kafka]") || {}
  doc = {
    "entity" => @entity,
    "topic" => kafka["topic"],
    "partition" => kafka["partition"],
    "offset" => kafka["offset"],
    "kafka_timestamp" => kafka["timestamp"],
    "reason" => reason,
    "raw" => raw.scrub[0, @raw_max]
  }
  replace_fields(event, doc)
  event.set("[@metadata][shopstream][dead_letter]", true)
end

def reshape_rejected(event)
  meta = event.get("[@metadata][dead_letter_queue]") || {}
  raw = event.to_json
  event_id = event.get("event_id")
  doc = {
    "entity" => event.get("[@metadata][entity]"),
    "reason" => "rejected by OpenSearch: #{meta['reason']}",
    "raw" => raw[0, @raw_max]
  }
  replace_fields(event, doc)
  event.set("[@metadata][dlq_id]", "rejected-#{event_id || meta["entry_time"]}")
  [event]
end

def replace_fields(event, doc)
  event.to_hash.each_key { |k| event.remove(k) unless k == "@timestamp" }
  doc.each { |k, v| event.set(k, v) unless v.nil? }
end
