extension BinaryInteger {
    /// The number with its thousands grouped by commas: `60000` → `60,000`, `-1234567` → `-1,234,567`.
    public var groupedDigits: String {
        let digits = String(self.magnitude)
        var result = self < 0 ? "-" : ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return result
    }
}
