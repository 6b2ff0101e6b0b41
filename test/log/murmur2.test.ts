import t from 'tap'
import { murmur2, partitionForKey, toPositive } from '../../src/log/murmur2.js'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
/** A uint32 bit pattern as librdkafka writes it, read as Java's signed int. */
const signed = (u32: number): number => u32 | 0

// Apache Kafka, clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java,
// testMurmur2 (string cases are "...".getBytes(); the last is new byte[] {'a', 'b', 'c'}).
const kafkaUtilsTest: Array<[string, number]> = [
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107]
]

// librdkafka, src/rdmurmur2.c, unittest_murmur2: "expected java_murmur2_results".
// The "1234" and "PreAmble…" rows are the C test's pointer offsets +0..+3.
const librdkafka: Array<[string, number]> = [
  ['kafka', signed(0xd067cf64)],
  ['giberish123456789', signed(0x8f552b0c)],
  ['1234', signed(0x9fc97b14)],
  ['234', signed(0xe7c009ca)],
  ['34', signed(0x873930da)],
  ['4', signed(0x5a4b5ca1)],
  ['PreAmbleWillBeRemoved,ThePrePartThatIs', signed(0x78424f1c)],
  ['reAmbleWillBeRemoved,ThePrePartThatIs', signed(0x4a62b377)],
  ['eAmbleWillBeRemoved,ThePrePartThatIs', signed(0xe0e4e09e)],
  ['AmbleWillBeRemoved,ThePrePartThatIs', signed(0x62b8b43f)],
  ['', signed(0x106e08d9)]
]

// kafkajs, src/producer/partitioners/defaultJava/murmur2.spec.js ("Generated with
// src/producer/partitioners/defaultJava/Test.java", a copy of Utils.murmur2 run on
// a JVM): keys of 1 to 9 bytes. (kafkajs' legacy partitioner table differs: it is
// not Java-compatible and must not be used as a reference.)
const kafkajsDefaultJava: Array<[string, number]> = [
  ['0', 971027396],
  ['1', -1993445489],
  ['128', -326012175],
  ['2187', -1508407203],
  ['16384', -325739742],
  ['78125', -1654490814],
  ['279936', 1462227128],
  ['823543', -2014198330],
  ['2097152', 607668903],
  ['4782969', -1182699775],
  ['10000000', -1830336757],
  ['19487171', -1603849305],
  ['35831808', -857013643],
  ['62748517', -1167431028],
  ['105413504', -381294639],
  ['170859375', -1658323481],
  ['100:48069', 1009543857]
]

// Akka, akka-cluster-sharding-typed Murmur2Spec ("expected correct hash values
// from the kafka murmur2 impl"): one key per length 1 to 5.
const akka: Array<[string, number]> = [
  ['1', -1993445489],
  ['12', 126087238],
  ['123', -267702483],
  ['1234', -1614185708],
  ['12345', -1188365604]
]

// kafka-python, test/test_partitioner.py, test_murmur2_java_compatibility:
// partitions out of 1000, "compare with output from Kafka's
// org.apache.kafka.clients.producer.Partitioner".
const kafkaPythonPartitionsOf1000: Array<[string, number]> = [
  ['', 681],
  ['a', 524],
  ['ab', 434],
  ['abc', 107],
  ['123456789', 566],
  ['\x00 ', 742]
]

// No published vector puts a byte >= 0x80 in the tail, where a sign-extension
// slip would hide. These were produced by a transcription of Utils.murmur2 run
// on OpenJDK 17, so they check JavaScript's 32-bit arithmetic against Java's int.
const javaHighBytes: Array<[Uint8Array, number]> = [
  [new Uint8Array(0).fill(0xff), 275646681],
  [new Uint8Array(1).fill(0xff), -311467685],
  [new Uint8Array(2).fill(0xff), -1642832928],
  [new Uint8Array(3).fill(0xff), 1548199422],
  [new Uint8Array(4).fill(0xff), 644171429],
  [new Uint8Array(5).fill(0xff), -363838622],
  [new Uint8Array(6).fill(0xff), 28450676],
  [new Uint8Array(7).fill(0xff), -71293549],
  [new Uint8Array(8).fill(0xff), 185950397],
  [bytes('été'), -2101193575],
  [bytes('日本語'), 1431860170],
  [bytes('café'), -1358007374]
]

t.test('murmur2 matches Kafka UtilsTest.testMurmur2', async t => {
  for (const [key, expected] of kafkaUtilsTest) t.equal(murmur2(bytes(key)), expected, key)
  t.equal(murmur2(new Uint8Array([0x61, 0x62, 0x63])), 479470107, "{'a', 'b', 'c'}")
})

t.test('murmur2 matches librdkafka unittest_murmur2, including the empty key', async t => {
  for (const [key, expected] of librdkafka) t.equal(murmur2(bytes(key)), expected, JSON.stringify(key))
})

t.test('murmur2 matches the JVM-generated vectors of kafkajs and Akka', async t => {
  for (const [key, expected] of [...kafkajsDefaultJava, ...akka]) t.equal(murmur2(bytes(key)), expected, key)
})

t.test('the published vectors cover every tail length for keys of 0 to 8 bytes', async t => {
  const lengths = new Set([...kafkaUtilsTest, ...librdkafka, ...kafkajsDefaultJava, ...akka].map(([key]) => bytes(key).length))
  for (let length = 0; length <= 8; length++) t.ok(lengths.has(length), `a vector of ${length} bytes`)
})

t.test('murmur2 treats bytes as unsigned, as Java masks them with 0xff', async t => {
  for (const [key, expected] of javaHighBytes) t.equal(murmur2(key), expected, Buffer.from(key).toString('hex') || '(empty)')
})

t.test('murmur2 reads only the view it is given', async t => {
  const backing = bytes('xxPreAmbleWillBeRemoved,ThePrePartThatIsyy')
  for (let skip = 0; skip < 4; skip++) {
    const view = backing.subarray(2 + skip, backing.length - 2)
    t.equal(murmur2(view), murmur2(view.slice()), `byteOffset ${view.byteOffset}`)
  }
  t.equal(murmur2(Buffer.from('kafka')), signed(0xd067cf64), 'a pooled Buffer')
})

t.test('toPositive clears the sign bit, like Utils.toPositive', async t => {
  t.equal(toPositive(0), 0)
  t.equal(toPositive(5), 5)
  t.equal(toPositive(-1), 0x7fffffff)
  t.equal(toPositive(-2147483648), 0, 'unlike Math.abs, the minimum int maps to 0')
  t.equal(toPositive(2147483647), 2147483647)
  t.equal(toPositive(signed(0xd067cf64)), 1348980580, 'librdkafka\'s positive "kafka" hash')
})

t.test('partitionForKey matches the Java partitioner (kafka-python vectors)', async t => {
  for (const [key, expected] of kafkaPythonPartitionsOf1000) {
    t.equal(partitionForKey(bytes(key), 1000), expected, JSON.stringify(key))
  }
})

t.test('partitionForKey stays in range and rejects invalid partition counts', async t => {
  for (const [key] of kafkaUtilsTest) {
    t.equal(partitionForKey(bytes(key), 1), 0)
    const partition = partitionForKey(bytes(key), 7)
    t.ok(Number.isInteger(partition) && partition >= 0 && partition < 7, `${key} → ${partition}`)
  }
  for (const count of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    t.throws(() => partitionForKey(bytes('k'), count), RangeError, String(count))
  }
})
