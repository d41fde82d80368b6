# Runs logstash/pipeline/contract.rb outside Logstash, as Logstash would: one event per record.
#
#   java -cp jruby-complete.jar org.jruby.Main tests/ruby/contract_harness.rb CONTRACT_RB RULES_JSON
#
# stdin: one JSON line per Kafka record {"value": base64|null, "key": base64|null, "ts": ms};
# stdout: one JSON line per record {"reason": null|"..."} or {"exception": "..."} (an exception in
# a Logstash ruby filter lets the event through tagged _rubyexception: the tests treat it as a bug).
# Bytes are decoded like the kafka input's StringDeserializer (Java, UTF-8, invalid -> U+FFFD).
require "json"
require "base64"
require "java"

# The slice of LogStash::Event the filter uses: get/set/remove with [a][b] references, to_hash.
class HarnessEvent
  def initialize(data)
    @data = data
  end

  def path(ref)
    ref.start_with?("[") ? ref.scan(/\[([^\]]+)\]/).flatten : [ref]
  end

  def get(ref)
    path(ref).reduce(@data) { |h, k| h.is_a?(Hash) ? h[k] : nil }
  end

  def set(ref, value)
    keys = path(ref)
    last = keys.pop
    h = keys.reduce(@data) { |acc, k| acc[k] ||= {} }
    h[last] = value
  end

  def remove(ref)
    keys = path(ref)
    last = keys.pop
    h = keys.reduce(@data) { |acc, k| acc.is_a?(Hash) ? acc[k] : nil }
    h.delete(last) if h.is_a?(Hash)
  end

  def to_hash
    @data.reject { |k, _| k == "@metadata" }
  end

  def to_json(*_args)
    JSON.generate(to_hash)
  end
end

def java_utf8(bytes)
  return nil if bytes.nil?

  java.lang.String.new(bytes.to_java_bytes, "UTF-8").to_s
end

load ARGV[0]
register("rules" => ARGV[1])
$stdout.sync = false
$stdin.each_line do |line|
  rec = JSON.parse(line)
  value = rec["value"] && Base64.strict_decode64(rec["value"])
  key = rec["key"] && Base64.strict_decode64(rec["key"])
  event = HarnessEvent.new(
    "message" => java_utf8(value),
    "@metadata" => { "kafka" => { "key" => java_utf8(key), "timestamp" => rec["ts"], "topic" => "t",
                                  "partition" => 0, "offset" => 0 } }
  )
  out = begin
    { "reason" => check(event) }
  rescue StandardError, java.lang.Throwable => e
    { "exception" => "#{e.class}: #{e.message}"[0, 300] }
  end
  puts JSON.generate(out)
end
