/// The one seeded generator of a run: SplitMix64 (Steele, Lea, Flood 2014).
///
/// Its whole state is one `UInt64`, saved in checkpoints so that a resumed run
/// draws exactly the numbers an uninterrupted one would. Pass it `inout`.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The generator's complete state.
    public var state: UInt64

    /// A generator started from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The starting state of the stream named `stream` derived from `seed`: SplitMix64 of the seed mixed with the
    /// name's FNV-1a hash, so that each name draws an independent sequence.
    public static func derivedSeed(_ seed: UInt64, stream: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a of the name
        for byte in stream.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return finalized(seed ^ hash)
    }

    /// A seed for stream number `index` of `seed`'s family: SplitMix64 of the pair, with no text to hash.
    public static func derivedSeed(_ seed: UInt64, index: Int) -> UInt64 {
        finalized(seed ^ (UInt64(bitPattern: Int64(index)) &* 0x9E37_79B9_7F4A_7C15))
    }

    /// SplitMix64's output function.
    @inline(__always)
    private static func finalized(_ value: UInt64) -> UInt64 {
        var mixed = value
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.finalized(state)
    }

    /// A uniform float in `[low, high)` from the top 24 bits of one draw.
    public mutating func nextFloat(in low: Float, _ high: Float) -> Float {
        let unit = Float(next() >> 40) * (1.0 / Float(1 << 24))
        return low + (high - low) * unit
    }

    /// A uniform integer in `0..<bound`, without modulo bias (Lemire's method).
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next(upperBound: UInt64(bound)))
    }

    /// A Fisher–Yates permutation of `0..<count`.
    public mutating func permutation(of count: Int) -> [Int] {
        var order = Array(0..<count)
        if count < 2 { return order }
        for index in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(index, nextIndex(below: index + 1))
        }
        return order
    }
}
