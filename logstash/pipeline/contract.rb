# Contract check for the shopstream Logstash pipelines (ruby filter, `path =>` + `script_params`).
#
# Hand-written; the rules come from the GENERATED contract-<entity>.json (conf/contract.yaml as
# JSON), so this file holds no field list. It mirrors shopstream.contract.Contract.validate_value:
# size, UTF-8, JSON object, unknown/missing/null fields, JSON type, pattern, const, min/max/step,
# max_length, allowed values, conditional values, email domain. An invalid record is reshaped into a
# dead letter (entity, topic/partition/offset, kafka_timestamp, reason, raw) and flagged with
# [@metadata][shopstream][dead_letter] so the pipeline routes it to shopstream-deadletter-<entity>-*.
#
# mode "dlq" (pipeline shopstream-dead-letters): reshapes an event that OpenSearch rejected (read
# back from Logstash's dead-letter queue) into the same dead-letter document, id rejected-<event_id>.
require "json"
require "time"

ENVELOPE = %w[@timestamp @version message tags event].freeze

def register(params)
  @mode = params.fetch("mode", "contract")
  @raw_max = 8192
  return unless @mode == "contract"

  rules = JSON.parse(File.read(params.fetch("rules")))
  @entity = rules.fetch("entity")
  @max_bytes = rules.fetch("max_event_bytes")
  @raw_max = rules.fetch("raw_max_chars")
  @fields = rules.fetch("fields")
  @known = @fields.map { |f| f["name"] }
  # Python's re.match(^...$) semantics: \A for ^, \Z (end or before a final newline) for $
  @patterns = {}
  @fields.each do |f|
    next unless f["pattern"]
    @patterns[f["name"]] = Regexp.new(f["pattern"].sub(/\A\^/, "\\A").sub(/\$\z/, "\\Z"))
  end
end

def filter(event)
  return reshape_rejected(event) if @mode == "dlq"

  reason = check(event)
  dead_letter(event, reason) unless reason.nil?
  [event]
end

def check(event)
  msg = event.get("message").to_s
  return "record is #{msg.bytesize} bytes; max_event_bytes is #{@max_bytes}" if msg.bytesize > @max_bytes
  return "not valid UTF-8" if !msg.valid_encoding? || msg.include?("\uFFFD")
  return "not valid JSON (or not a JSON object)" if Array(event.get("tags")).include?("_jsonparsefailure")

  data = event.to_hash
  errors = (data.keys - ENVELOPE - @known).sort.map { |k| "#{k}: unknown field" }
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
    errors.concat(check_value(f, value, data))
  end
  errors.empty? ? nil : errors.join("; ")
end

def check_value(f, value, data)
  name = f["name"]
  if f["wire"] == "number"
    return ["#{name}: expected #{f['type']}, got #{value.class}"] unless value.is_a?(Integer)
    return ["#{name}: #{value} outside #{f['type']}"] if value < f["int_min"] || value > f["int_max"]
  elsif !value.is_a?(String)
    return ["#{name}: expected #{f['type']} (a JSON string), got #{value.class}"]
  end
  errors = []
  pattern = @patterns[name]
  if pattern && !pattern.match?(value)
    errors << "#{name}: #{value.inspect} is not a valid #{f['type']}"
  elsif f["type"] == "timestamp"
    begin
      Time.iso8601(value)
    rescue ArgumentError
      errors << "#{name}: #{value.inspect} is not a valid timestamp"
    end
  end
  errors << "#{name}: must be #{f['const'].inspect}, got #{value.inspect}" if f.key?("const") && value != f["const"]
  if value.is_a?(Integer)
    errors << "#{name}: #{value} < min #{f['min']}" if f.key?("min") && value < f["min"]
    errors << "#{name}: #{value} > max #{f['max']}" if f.key?("max") && value > f["max"]
    errors << "#{name}: #{value} is not min + k*#{f['step']}" if f.key?("step") && ((value - f.fetch("min", 0)) % f["step"]).nonzero?
  end
  if value.is_a?(String)
    errors << "#{name}: length #{value.length} > max_length #{f['max_length']}" if f.key?("max_length") && value.length > f["max_length"]
    errors << "#{name}: #{value.inspect} not in allowed values" if f.key?("allowed") && !f["allowed"].include?(value)
    if f.key?("allowed_given")
      given = data[f["weights_by"]]
      table = given.is_a?(String) ? f["allowed_given"][given] : nil
      if table.nil?
        errors << "#{name}: #{value.inspect} not in allowed values" unless f["allowed_given"].values.flatten.include?(value)
      elsif !table.include?(value)
        errors << "#{name}: #{value.inspect} not allowed when #{f['weights_by']} is #{given.inspect}"
      end
    end
    if f.key?("email_domains")
      at = value.rindex("@")
      if at.nil? || at.zero?
        errors << "#{name}: #{value.inspect} is not an email address"
      elsif !f["email_domains"].include?(value[(at + 1)..])
        errors << "#{name}: domain #{value[(at + 1)..].inspect} not in allowed domains"
      end
    end
  end
  errors
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
    "raw" => raw[0, @raw_max]
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
