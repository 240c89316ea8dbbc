import XCTest
import LRTTensor
@testable import LRTLayers

extension XCTestCase {
    /// Checks every parameter gradient of `model` for the softmax cross-entropy of `labels` at `input`
    /// (one training forward, `zeroGradients`, `backward`) against central finite differences of the
    /// inference loss, within `absolute + relative·|expected|`.
    func assertModelGradientsMatchFiniteDifferences(_ model: any Model, input: Tensor, labels: [Int32], step: Float = 1e-2,
                                                    absolute: Double = 1e-3, relative: Double = 0, label: String = "",
                                                    file: StaticString = #filePath, line: UInt = #line) {
        func loss() -> Double {
            SoftmaxCrossEntropy.evaluate(logits: model.infer(input), labels: labels[...], computeGradient: false).loss
        }
        var training = ForwardContext(training: true)
        let result = SoftmaxCrossEntropy.evaluate(logits: model.forward(input, context: &training), labels: labels[...])
        model.zeroGradients()
        model.backward(result.gradient)
        for parameter in model.parameters {
            let analytic = parameter.gradient
            for index in 0..<parameter.value.count {
                let saved = parameter.value.storage[index]
                parameter.value.storage[index] = saved + step; let plus = loss()
                parameter.value.storage[index] = saved - step; let minus = loss()
                parameter.value.storage[index] = saved
                let expected = (plus - minus) / (2 * Double(step))
                XCTAssertEqual(Double(analytic.storage[index]), expected, accuracy: absolute + relative * abs(expected),
                               "\(label) \(parameter.path)[\(index)]", file: file, line: line)
            }
        }
    }
}
